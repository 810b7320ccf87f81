import JourneyCore

/// `inputs.http` (the Segment HTTP Tracking API input) and `admin` (the metrics and health listener).
extension SettingsParser {
    static func httpInput(_ node: YAMLNode, reader: YAMLReader, into d: inout DaemonSettings) {
        guard let hm = reader.mapping(node, "inputs.http", allowed: ["listen", "sources", "tls", "queue", "idle_timeout"]) else { return }
        var http = DaemonSettings.HTTPInput()
        if let node = hm["listen"], let address = listenAddress(node, "inputs.http.listen", reader: reader) { http.listen = address }
        if let node = hm["queue"], let n = reader.integer(node, "inputs.http.queue", in: 100...10_000_000) { http.queue = n }
        if let node = hm["idle_timeout"], let span = reader.duration(node, "inputs.http.idle_timeout") {
            if span < .seconds(1) || span > .days(1) {
                reader.error(at: node, "inputs.http.idle_timeout", "between 1s and 1d (clients keep connections open between requests)")
            } else {
                http.idleTimeout = span
            }
        }
        if let node = hm["tls"], let tm = reader.mapping(node, "inputs.http.tls", allowed: ["certificate", "key"]) {
            let certificate = reader.required(tm, "certificate", "inputs.http.tls").flatMap { reader.string($0, "inputs.http.tls.certificate", expected: "a PEM file") }
            let key = reader.required(tm, "key", "inputs.http.tls").flatMap { reader.string($0, "inputs.http.tls.key", expected: "a PEM file") }
            if let certificate, let key { http.tls = .init(certificate: certificate, key: key) }
        }
        if let node = reader.required(hm, "sources", "inputs.http"),
            let list = reader.sequence(node, "inputs.http.sources", what: "a list of sources like {name: web, key_file: keys/web}")
        {
            var names: Set<String> = []
            for (i, item) in list.enumerated() {
                let path = "inputs.http.sources[\(i)]"
                guard let sm = reader.mapping(item, path, allowed: ["name", "key_file", "key_credential"]) else { continue }
                guard let nameNode = reader.required(sm, "name", path),
                    let name = reader.identifier(nameNode, "\(path).name", what: "source name", dash: true)
                else { continue }
                if !names.insert(name).inserted { reader.error(at: nameNode, "\(path).name", "duplicate source name \"\(name)\"") }
                let file = sm["key_file"].flatMap { reader.string($0, "\(path).key_file", expected: "a path") }
                let credential = sm["key_credential"].flatMap { reader.string($0, "\(path).key_credential", expected: "a credential name") }
                switch (file, credential) {
                case (let file?, nil): http.sources.append(.init(name: name, key: .file(file)))
                case (nil, let credential?):
                    if credential.contains("/") || credential.isEmpty {
                        reader.error(at: sm["key_credential"]!, "\(path).key_credential", "a credential name is a file name in $CREDENTIALS_DIRECTORY, without \"/\"")
                    } else {
                        http.sources.append(.init(name: name, key: .credential(credential)))
                    }
                case (nil, nil):
                    if sm.unknown.isEmpty { reader.error(at: item, path, "needs key_file: PATH or key_credential: NAME (a systemd credential)") }
                case (_?, _?): reader.error(at: item, path, "give either key_file or key_credential, not both")
                }
            }
        }
        d.http = http
    }

    static func admin(_ node: YAMLNode, reader: YAMLReader, into d: inout DaemonSettings) {
        guard let am = reader.mapping(node, "admin", allowed: ["listen"]) else { return }
        if let node = am["listen"], let address = listenAddress(node, "admin.listen", reader: reader) { d.adminListen = address }
    }

    static func listenAddress(_ node: YAMLNode, _ path: String, reader: YAMLReader) -> String? {
        guard let address = reader.string(node, path, expected: "host:port") else { return nil }
        guard SocketAddressText.parse(address, allowingPortZero: true) != nil else {
            reader.error(at: node, path, "expected host:port like 127.0.0.1:8088 or [::1]:8088, found `\(address)`")
            return nil
        }
        return address
    }
}
