import JourneyCore

/// The counters and gauges of the metrics registry, read back from the Prometheus text exposition that
/// `/metrics` serves: so `journeyd status` shows the very figures a scrape gets, by the same labels,
/// rather than a second set of hand-kept counters. Histograms are left to Prometheus (their buckets say
/// little on a terminal).
///
/// Reads the text format 0.0.4 as swift-prometheus writes it: `# TYPE name kind` before each family,
/// then `name{label="value",…} number` lines with `\\`, `\"` and `\n` escaped in label values.
public struct MetricsSnapshot: Sendable, Equatable {
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var labels: [(String, String)]
        public var value: Double

        public static func == (a: Sample, b: Sample) -> Bool {
            a.name == b.name && a.value == b.value && a.labels.elementsEqual(b.labels) { $0 == $1 }
        }
    }

    /// Counter and gauge samples, in the order of the exposition.
    public var samples: [Sample] = []

    public init(exposition: [UInt8]) {
        var kinds: [String: String] = [:]
        for line in String(decoding: exposition, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { kinds[String(parts[2])] = String(parts[3]) }
                continue
            }
            guard !line.hasPrefix("#"), let sample = Self.sample(line), ["counter", "gauge"].contains(kinds[sample.name]) else { continue }
            samples.append(sample)
        }
    }

    /// One sample line, or nil for a line that is not one.
    static func sample(_ line: Substring) -> Sample? {
        var name = ""
        var labels: [(String, String)] = []
        var rest = line[...]
        if let brace = rest.firstIndex(of: "{") {
            name = String(rest[..<brace])
            rest = rest[rest.index(after: brace)...]
            while let first = rest.first, first != "}" {
                if first == "," || first == " " {
                    rest = rest.dropFirst()
                    continue
                }
                guard let equals = rest.firstIndex(of: "="), rest[rest.index(after: equals)...].first == "\"" else { return nil }
                let key = String(rest[..<equals])
                var value = ""
                var index = rest.index(equals, offsetBy: 2)
                var closed = false
                while index < rest.endIndex {
                    let c = rest[index]
                    index = rest.index(after: index)
                    if c == "\"" {
                        closed = true
                        break
                    }
                    if c == "\\", index < rest.endIndex {
                        let escaped = rest[index]
                        index = rest.index(after: index)
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(c)
                    }
                }
                guard closed else { return nil }
                labels.append((key, value))
                rest = rest[index...]
            }
            guard rest.first == "}" else { return nil }
            rest = rest.dropFirst()
        } else {
            guard let space = rest.firstIndex(of: " ") else { return nil }
            name = String(rest[..<space])
            rest = rest[space...]
        }
        let number = rest.drop { $0 == " " }.prefix { $0 != " " }
        guard !name.isEmpty, let value = Double(number) ?? (number == "+Inf" ? .infinity : number == "-Inf" ? -.infinity : nil) else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }

    /// For the status answer: `{"journeyd_touches_total": [{"journey": "cart", …, "value": 3}], …}`.
    public var jsonValue: Value {
        var families: [String: [Value]] = [:]
        var order: [String] = []
        for sample in samples {
            if families[sample.name] == nil { order.append(sample.name) }
            let members = sample.labels.map { Value.Member($0.0, .string($0.1)) } + [.init("value", .number(sample.value))]
            families[sample.name, default: []].append(.object(members))
        }
        return .object(order.map { .init($0, .array(families[$0]!)) })
    }
}
