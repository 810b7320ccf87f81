import JourneyCore

/// `cluster` (several instances on NATS JetStream and PostgreSQL).
extension SettingsParser {
    static func cluster(_ node: YAMLNode, reader: YAMLReader, into d: inout DaemonSettings) {
        guard let cm = reader.mapping(node, "cluster", allowed: ["instance", "partitions", "stream", "nats", "postgres", "lease", "stall_after"]) else { return }
        var instance: String?
        if let node = cm["instance"] { instance = reader.identifier(node, "cluster.instance", what: "instance name", dash: true) }
        var partitions = 64
        if let node = cm["partitions"], let n = reader.integer(node, "cluster.partitions", in: 1...4096) { partitions = n }
        var natsURL: String?
        var natsCredentials: ClusterSettings.Secret?
        var stream = "JOURNEYD"
        if let node = reader.required(cm, "nats", "cluster"),
            let nm = reader.mapping(node, "cluster.nats", allowed: ["url", "credentials_file", "credentials_credential"])
        {
            if let node = reader.required(nm, "url", "cluster.nats"), let url = reader.string(node, "cluster.nats.url", expected: "a NATS URL") {
                if url.hasPrefix("nats://") || url.hasPrefix("tls://") {
                    natsURL = url
                } else {
                    reader.error(at: node, "cluster.nats.url", "expected a URL like nats://127.0.0.1:4222 or tls://host:4222, found `\(url)`")
                }
            }
            natsCredentials = secret(nm, "credentials", "cluster.nats", required: false, reader: reader)
        }
        if let node = cm["stream"], let name = reader.string(node, "cluster.stream", expected: "a stream name") {
            if !name.isEmpty, name.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 45 }) {
                stream = name
            } else {
                reader.error(at: node, "cluster.stream", "a stream name is letters, digits, _ and -, found `\(name)`")
            }
        }
        var dsn: ClusterSettings.Secret?
        if let node = reader.required(cm, "postgres", "cluster"),
            let pm = reader.mapping(node, "cluster.postgres", allowed: ["dsn_file", "dsn_credential"])
        {
            dsn = secret(pm, "dsn", "cluster.postgres", required: true, reader: reader)
        }
        var leaseTTL = ClusterSettings.defaultLeaseTTL
        if let node = cm["lease"], let lm = reader.mapping(node, "cluster.lease", allowed: ["ttl"]),
            let ttlNode = lm["ttl"], let span = reader.duration(ttlNode, "cluster.lease.ttl")
        {
            if span < .seconds(1) || span > .minutes(10) {
                reader.error(at: ttlNode, "cluster.lease.ttl", "must be from 1s to 10m")
            } else {
                leaseTTL = span
            }
        }
        var stallAfter = ClusterSettings.defaultStallAfter
        if let node = cm["stall_after"], let span = reader.duration(node, "cluster.stall_after") {
            if span < .seconds(1) || span > .hours(1) {
                reader.error(at: node, "cluster.stall_after", "must be from 1s to 1h")
            } else {
                stallAfter = span
            }
        }
        guard let natsURL, let dsn else { return }
        var cluster = ClusterSettings(natsURL: natsURL, postgresDSN: dsn)
        cluster.instance = instance
        cluster.partitions = partitions
        cluster.natsCredentials = natsCredentials
        cluster.stream = stream
        cluster.leaseTTL = leaseTTL
        cluster.stallAfter = stallAfter
        d.cluster = cluster
    }

    /// `<stem>_file: PATH` or `<stem>_credential: NAME`, exactly one (or none when not `required`).
    static func secret(_ m: Entries, _ stem: String, _ path: String, required: Bool, reader: YAMLReader) -> ClusterSettings.Secret? {
        let file = m["\(stem)_file"].flatMap { reader.string($0, "\(path).\(stem)_file", expected: "a path") }
        let credential = m["\(stem)_credential"].flatMap { reader.string($0, "\(path).\(stem)_credential", expected: "a credential name") }
        switch (file, credential) {
        case (let file?, nil):
            if file.isEmpty { reader.error(at: m["\(stem)_file"], "\(path).\(stem)_file", "must not be empty") }
            return file.isEmpty ? nil : .file(file)
        case (nil, let credential?):
            if credential.contains("/") || credential.isEmpty {
                reader.error(at: m["\(stem)_credential"], "\(path).\(stem)_credential", "a credential name is a file name in $CREDENTIALS_DIRECTORY, without \"/\"")
                return nil
            }
            return .credential(credential)
        case (nil, nil):
            if required && m.unknown.isEmpty { reader.error(at: m.node, path, "needs \(stem)_file: PATH or \(stem)_credential: NAME (a systemd credential)") }
            return nil
        case (_?, _?):
            reader.error(at: m.node, path, "give either \(stem)_file or \(stem)_credential, not both")
            return nil
        }
    }
}
