import JourneyCore
import Yams

/// `journeyd.yaml` and `channels.yaml`.
enum SettingsParser {
    /// Keys the daemon interprets; kept as opaque values here and validated by the daemon.
    static let daemonKeys = ["state", "inputs", "control", "delivery", "logging", "metrics", "outbox"]

    static func settings(_ root: YAMLNode, reader: YAMLReader) -> Settings {
        var settings = Settings()
        guard let m = reader.mapping(root, "", allowed: ["timezone", "policy", "dedup"] + daemonKeys) else { return settings }
        if let tz = m["timezone"], let zone = reader.zone(tz, "timezone") { settings.defaultZone = zone }
        if let p = m["policy"], let pm = reader.mapping(p, "policy", allowed: ["caps", "quiet_hours"]) {
            if let caps = pm["caps"], let list = reader.sequence(caps, "policy.caps") {
                settings.caps = list.enumerated().compactMap {
                    JourneyParser.parseCap($1, "policy.caps[\($0)]", reader: reader, channel: true)
                }
            }
            if let q = pm["quiet_hours"] {
                settings.quietHours = JourneyParser.parseQuietHours(q, "policy.quiet_hours", reader: reader)
            }
        }
        if let d = m["dedup"], let dm = reader.mapping(d, "dedup", allowed: ["window", "max_entries"]) {
            if let w = dm["window"], let span = reader.duration(w, "dedup.window") { settings.dedupWindow = span }
            if let n = dm["max_entries"], let count = reader.integer(n, "dedup.max_entries", in: 1...1_000_000_000) {
                settings.dedupMaxEntries = count
            }
        }
        var daemon: [Value.Member] = []
        for item in m.items where daemonKeys.contains(item.key) { daemon.append(Value.Member(item.key, reader.value(item.value))) }
        settings.daemon = .object(daemon)
        return settings
    }

    static func channels(_ root: YAMLNode, reader: YAMLReader) -> [ChannelDefinition] {
        guard let m = reader.mapping(root, "", allowed: ["channels"]) else { return [] }
        guard let listNode = m["channels"] else {
            reader.error(at: root, "channels", "missing required key \"channels\"")
            return []
        }
        guard let list = reader.sequence(listNode, "channels") else { return [] }
        var channels: [ChannelDefinition] = []
        for (i, item) in list.enumerated() {
            let path = "channels[\(i)]"
            guard let cm = reader.mapping(item, path, allowed: nil) else { continue }
            guard let nameNode = cm["name"], let typeNode = cm["type"] else {
                reader.error(at: item, path, "a channel needs a name and a type")
                continue
            }
            guard let name = reader.identifier(nameNode, "\(path).name", what: "channel name", dash: true),
                let type = reader.string(typeNode, "\(path).type")
            else { continue }
            guard ChannelDefinition.knownTypes.contains(type) else {
                let suggestion = YAMLReader.closest(type, in: ChannelDefinition.knownTypes).map { "; did you mean \"\($0)\"?" } ?? ""
                reader.error(
                    at: typeNode, "\(path).type",
                    "unknown channel type \"\(type)\"\(suggestion) (known: \(ChannelDefinition.knownTypes.sorted().joined(separator: ", ")))")
                continue
            }
            if let first = channels.first(where: { $0.name == name }) {
                reader.error(at: nameNode, "\(path).name", "duplicate channel name \"\(name)\" (first at line \(first.line))")
                continue
            }
            var options: [Value.Member] = []
            for entry in cm.items where entry.key != "name" && entry.key != "type" {
                options.append(Value.Member(entry.key, reader.value(entry.value)))
            }
            channels.append(
                ChannelDefinition(name: name, type: type, options: .object(options), file: reader.file, line: item.mark?.line ?? 0))
        }
        return channels
    }
}
