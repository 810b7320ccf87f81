import JourneyCore
import Yams

/// `journeyd.yaml` and `channels.yaml`.
enum SettingsParser {
    /// Keys the daemon interprets; kept as opaque values here and validated by the daemon.
    static let daemonKeys = ["state", "inputs", "control", "delivery", "logging", "metrics", "outbox"]

    /// The settings, and the channel names global caps refer to (checked once channels are known).
    static func settings(_ root: YAMLNode, reader: YAMLReader) -> (
        Settings, capChannels: [(name: String, node: YAMLNode, path: String)]
    ) {
        var settings = Settings()
        var capChannels: [(String, YAMLNode, String)] = []
        guard let m = reader.mapping(root, "", allowed: ["timezone", "policy", "dedup"] + daemonKeys) else {
            return (settings, [])
        }
        if let tz = m["timezone"], let zone = reader.zone(tz, "timezone") { settings.defaultZone = zone }
        if let p = m["policy"], let pm = reader.mapping(p, "policy", allowed: ["caps", "quiet_hours"]) {
            if let caps = pm["caps"],
                let list = reader.sequence(caps, "policy.caps", what: "a list of caps like {touches: 2, per: 1d}")
            {
                for (i, item) in list.enumerated() {
                    let path = "policy.caps[\(i)]"
                    guard let cap = JourneyParser.parseCap(item, path, reader: reader, channel: true) else { continue }
                    settings.caps.append(cap)
                    if let name = cap.channel, case .mapping(let cm) = item,
                        let node = cm.first(where: { $0.key.string == "channel" })?.value
                    {
                        capChannels.append((name, node, "\(path).channel"))
                    }
                }
            }
            if let q = pm["quiet_hours"] {
                settings.quietHours = JourneyParser.parseQuietHours(q, "policy.quiet_hours", reader: reader)
            }
        }
        if let d = m["dedup"], let dm = reader.mapping(d, "dedup", allowed: ["window", "max_entries"]) {
            if let w = dm["window"], let span = reader.duration(w, "dedup.window") { settings.dedupWindow = span }
            if let n = dm["max_entries"], let count = reader.integer(n, "dedup.max_entries", in: 1...1_000_000_000_000) {
                settings.dedupMaxEntries = count
            }
        }
        var daemon: [Value.Member] = []
        for item in m.items where daemonKeys.contains(item.key) {
            daemon.append(Value.Member(item.key, reader.value(item.value, item.key)))
        }
        settings.daemon = .object(daemon)
        return (settings, capChannels)
    }

    /// The valid channels, and every channel name declared (also those with errors, so that sends to
    /// them do not add "unknown channel" errors).
    static func channels(_ root: YAMLNode, reader: YAMLReader) -> (channels: [ChannelDefinition], declared: Set<String>) {
        guard let m = reader.mapping(root, "", allowed: ["channels"]),
            let listNode = reader.required(m, "channels", ""),
            let list = reader.sequence(listNode, "channels", what: "a list of channels like {name: email, type: log}")
        else { return ([], []) }
        var channels: [ChannelDefinition] = []
        var declared: [String: Int] = [:]
        for (i, item) in list.enumerated() {
            let path = "channels[\(i)]"
            let errorsBefore = reader.errorCount
            guard let cm = reader.mapping(item, path, allowed: nil, what: "a channel like {name: email, type: log}") else {
                continue
            }
            let nameNode = reader.required(cm, "name", path)
            let typeNode = reader.required(cm, "type", path)
            let name = nameNode.flatMap { reader.identifier($0, "\(path).name", what: "channel name", dash: true) }
            if let name, let nameNode {
                if let line = declared[name] {
                    reader.error(at: nameNode, "\(path).name", "duplicate channel name \"\(name)\" (first at line \(line))")
                } else {
                    declared[name] = item.mark?.line ?? 0
                }
            }
            var type: String?
            if let typeNode, let t = reader.string(typeNode, "\(path).type", expected: "a channel type") {
                if ChannelDefinition.knownTypes.contains(t) {
                    type = t
                } else {
                    reader.error(
                        at: typeNode, "\(path).type",
                        "unknown channel type \"\(t)\"\(Suggestions.didYouMean(t, in: ChannelDefinition.knownTypes)) (known: \(ChannelDefinition.knownTypes.sorted().joined(separator: ", ")))"
                    )
                }
            }
            var options: [Value.Member] = []
            for entry in cm.items where entry.key != "name" && entry.key != "type" {
                options.append(Value.Member(entry.key, reader.value(entry.value, "\(path).\(entry.key)")))
            }
            guard reader.errorCount == errorsBefore, let name, let type else { continue }
            channels.append(
                ChannelDefinition(
                    name: name, type: type, options: .object(options), file: reader.file, line: item.mark?.line ?? 0))
        }
        return (channels, Set(declared.keys))
    }
}
