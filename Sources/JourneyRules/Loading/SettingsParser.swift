import JourneyCore
import JourneyTemplates
import Yams

/// `journeyd.yaml` and `channels.yaml`.
enum SettingsParser {
    /// Keys the daemon interprets; kept as opaque values here and validated by the daemon.
    static let daemonKeys = ["metrics"]
    /// Keys of the daemon's settings, validated here.
    static let typedDaemonKeys = ["state", "inputs", "control", "reload", "logging", "delivery", "events", "admin", "cluster"]

    /// The settings, and the channel names global caps refer to (checked once channels are known).
    static func settings(_ root: YAMLNode, reader: YAMLReader) -> (
        Settings, capChannels: [(name: String, node: YAMLNode, path: String)]
    ) {
        var settings = Settings()
        var capChannels: [(String, YAMLNode, String)] = []
        guard let m = reader.mapping(root, "", allowed: ["timezone", "policy", "dedup", "explain", "stages"] + daemonKeys + typedDaemonKeys) else {
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
        if let x = m["explain"], let xm = reader.mapping(x, "explain", allowed: ["trace"]) {
            if let n = xm["trace"], let count = reader.integer(n, "explain.trace", in: 0...10_000) { settings.decisionTrace = count }
        }
        if let node = m["stages"] { settings.stages = stages(node, reader: reader) }
        var daemon: [Value.Member] = []
        for item in m.items where daemonKeys.contains(item.key) {
            daemon.append(Value.Member(item.key, reader.value(item.value, item.key)))
        }
        settings.daemon = .object(daemon)
        settings.daemonSettings = daemonSettings(m, reader: reader)
        return (settings, capChannels)
    }

    static func daemonSettings(_ m: Entries, reader: YAMLReader) -> DaemonSettings {
        var d = DaemonSettings()
        func text(_ node: YAMLNode?, _ path: String) -> String? {
            guard let node, let s = reader.string(node, path, expected: "a path") else { return nil }
            if s.isEmpty { reader.error(at: node, path, "must not be empty") }
            return s.isEmpty ? nil : s
        }
        if let n = m["state"],
            let sm = reader.mapping(n, "state", allowed: ["path", "durability", "checkpoint", "log_retention", "max_users_in_memory"])
        {
            d.statePath = text(sm["path"], "state.path")
            if let c = sm["checkpoint"], let cm = reader.mapping(c, "state.checkpoint", allowed: ["every", "log_bytes"]) {
                if let node = cm["every"], let span = reader.duration(node, "state.checkpoint.every") {
                    if span < .seconds(1) {
                        reader.error(at: node, "state.checkpoint.every", "must be at least 1s")
                    } else {
                        d.checkpointEvery = span
                    }
                }
                if let node = cm["log_bytes"], let bytes = reader.byteSize(node, "state.checkpoint.log_bytes", in: 1_048_576...1 << 40) {
                    d.checkpointLogBytes = bytes
                }
            }
            if let node = sm["log_retention"], let span = reader.duration(node, "state.log_retention") { d.logRetention = span }
            if let node = sm["max_users_in_memory"], let n = reader.integer(node, "state.max_users_in_memory", in: 1000...1_000_000_000) {
                d.maxUsersInMemory = n
            }
            if let node = sm["durability"], let s = reader.string(node, "state.durability", expected: "full or normal") {
                switch s {
                case "full": d.fsyncEveryCommit = true
                case "normal": d.fsyncEveryCommit = false
                default: reader.error(at: node, "state.durability", "expected full or normal, found `\(s)`")
                }
            }
        }
        if let n = m["inputs"], let im = reader.mapping(n, "inputs", allowed: ["spool", "tail", "socket", "http", "batch"]) {
            if let s = im["spool"], let sm = reader.mapping(s, "inputs.spool", allowed: ["directory", "done"]) {
                d.spoolDirectory = text(sm["directory"], "inputs.spool.directory")
                if let node = sm["done"], let s = reader.string(node, "inputs.spool.done", expected: "archive or delete") {
                    if let done = DaemonSettings.SpoolDone(rawValue: s) {
                        d.spoolDone = done
                    } else {
                        reader.error(at: node, "inputs.spool.done", "expected archive or delete, found `\(s)`")
                    }
                }
            }
            if let t = im["tail"], let tm = reader.mapping(t, "inputs.tail", allowed: ["path"]) {
                d.tailFile = text(reader.required(tm, "path", "inputs.tail"), "inputs.tail.path")
            }
            if let s = im["socket"], let sm = reader.mapping(s, "inputs.socket", allowed: ["path", "listen"]) {
                d.socketPath = text(sm["path"], "inputs.socket.path")
                if let node = sm["listen"], let address = reader.string(node, "inputs.socket.listen", expected: "host:port") {
                    if SocketAddressText.parse(address) == nil {
                        reader.error(at: node, "inputs.socket.listen", "expected host:port like 127.0.0.1:5170 or [::1]:5170, found `\(address)`")
                    } else {
                        d.socketListen = address
                    }
                }
                if sm["path"] == nil && sm["listen"] == nil && sm.unknown.isEmpty {
                    reader.error(at: s, "inputs.socket", "needs `path` (a Unix socket) or `listen` (host:port), or both")
                }
            }
            if let b = im["batch"] { d.batchSize = reader.integer(b, "inputs.batch", in: 1...100_000) }
            if let h = im["http"] { httpInput(h, reader: reader, into: &d) }
        }
        if let n = m["admin"] { admin(n, reader: reader, into: &d) }
        if let n = m["cluster"] { cluster(n, reader: reader, into: &d) }
        if let n = m["control"], let cm = reader.mapping(n, "control", allowed: ["socket"]) {
            d.controlSocket = text(cm["socket"], "control.socket")
        }
        if let n = m["reload"], let rm = reader.mapping(n, "reload", allowed: ["watch", "debounce"]) {
            if let w = rm["watch"], let b = reader.bool(w, "reload.watch") { d.watchRules = b }
            if let w = rm["debounce"], let span = reader.duration(w, "reload.debounce") { d.reloadDebounce = span }
        }
        if let n = m["logging"], let lm = reader.mapping(n, "logging", allowed: ["user_id", "user_id_key", "level"]) {
            if let node = lm["level"], let s = reader.string(node, "logging.level", expected: "a log level") {
                let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                if levels.contains(s) {
                    d.logLevel = s
                } else {
                    reader.error(at: node, "logging.level", "expected one of \(levels.joined(separator: ", ")), found `\(s)`\(Suggestions.didYouMean(s, in: levels))")
                }
            }
            if let node = lm["user_id_key"], let key = reader.string(node, "logging.user_id_key", expected: "32 hex digits") {
                if key.count == 32 && key.allSatisfy(\.isHexDigit) {
                    d.userIDKey = key
                } else {
                    reader.error(at: node, "logging.user_id_key", "expected 32 hex digits (a 128-bit key), found \(key.count) characters")
                }
            }
            if let node = lm["user_id"], let s = reader.string(node, "logging.user_id", expected: "plain or hash") {
                switch s {
                case "plain": d.hashUserIDs = false
                case "hash": d.hashUserIDs = true
                default: reader.error(at: node, "logging.user_id", "expected plain or hash, found `\(s)`")
                }
            }
        }
        if let n = m["events"], let em = reader.mapping(n, "events", allowed: ["future", "past", "out_of_bounds", "clock_skew"]) {
            func bound(_ key: String) -> TimeSpan?? {
                guard let node = em[key] else { return nil }
                if reader.string(node, "events.\(key)", expected: "a duration or none") == "none" { return .some(nil) }
                return reader.duration(node, "events.\(key)").map { .some($0) }
            }
            if let future = bound("future") { d.eventTime.future = future }
            if let past = bound("past") { d.eventTime.past = past }
            if let node = em["out_of_bounds"], let s = reader.string(node, "events.out_of_bounds", expected: "refuse or clamp") {
                switch s {
                case "refuse": d.eventTime.clamp = false
                case "clamp": d.eventTime.clamp = true
                default: reader.error(at: node, "events.out_of_bounds", "expected refuse or clamp, found `\(s)`")
                }
            }
            if let node = em["clock_skew"], let s = reader.string(node, "events.clock_skew", expected: "correct or ignore") {
                switch s {
                case "correct": d.eventTime.correctSkew = true
                case "ignore": d.eventTime.correctSkew = false
                default: reader.error(at: node, "events.clock_skew", "expected correct or ignore, found `\(s)`")
                }
            }
        }
        if let n = m["delivery"], let dm = reader.mapping(n, "delivery", allowed: ["unsubscribe_url", "expire_after", "concurrency"]) {
            if let node = dm["concurrency"], let count = reader.integer(node, "delivery.concurrency", in: 1...10_000) {
                d.deliveryConcurrency = count
            }
            if let node = dm["expire_after"], let span = reader.duration(node, "delivery.expire_after") {
                if span > .zero { d.expireAfter = span } else { reader.error(at: node, "delivery.expire_after", "must be longer than 0") }
            }
            if let node = dm["unsubscribe_url"], let text = reader.string(node, "delivery.unsubscribe_url", expected: "a Liquid template") {
                // Compiled now so `check` reports its errors where they are; the renderer compiles it again.
                let start = reader.position(ofUTF8Offset: 0, in: node)
                do {
                    _ = try LiquidTemplate(text, mode: .text, file: reader.file, line: start.line, column: start.column)
                    d.unsubscribeURL = text
                } catch {
                    for problem in error.errors {
                        reader.record(line: problem.line, column: problem.column, "delivery.unsubscribe_url", problem.message)
                    }
                }
            }
        }
        return d
    }

    /// The valid channels, and every channel name declared (also those with errors, so that sends to
    /// them do not add "unknown channel" errors).
    static func channels(_ root: YAMLNode, reader: YAMLReader, types: [String]?) -> (channels: [ChannelDefinition], declared: Set<String>) {
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
            // The types are the channel registry's (one list of adapters), handed in by the caller.
            var type = typeNode.flatMap { reader.string($0, "\(path).type", expected: "a channel type") }
            if let t = type, let types, !types.contains(t) {
                reader.error(
                    at: typeNode, "\(path).type",
                    "unknown channel type \"\(t)\"\(Suggestions.didYouMean(t, in: types)) (known: \(types.sorted().joined(separator: ", ")))")
                type = nil
            }
            var options: [Value.Member] = []
            var positions: [String: ChannelDefinition.Position] = [:]
            for entry in cm.items {
                positions[entry.key] = .init(line: entry.keyNode.mark?.line ?? 0, column: entry.keyNode.mark?.column ?? 0)
                guard entry.key != "name" && entry.key != "type" else { continue }
                options.append(Value.Member(entry.key, reader.value(entry.value, "\(path).\(entry.key)")))
            }
            guard reader.errorCount == errorsBefore, let name, let type else { continue }
            channels.append(
                ChannelDefinition(
                    name: name, type: type, options: .object(options), file: reader.file, line: item.mark?.line ?? 0,
                    column: item.mark?.column ?? 0, positions: positions))
        }
        return (channels, Set(declared.keys))
    }
}

/// `host:port` as written in settings: `127.0.0.1:5170`, `localhost:5170`, `[::1]:5170`, `:5170`.
public enum SocketAddressText {
    /// `allowingPortZero`: port 0 asks the system for a free port (listeners that say where they listen).
    public static func parse(_ text: String, allowingPortZero: Bool = false) -> (host: String, port: UInt16)? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 || allowingPortZero else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") {
            guard host.hasSuffix("]") else { return nil }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil
        }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}
