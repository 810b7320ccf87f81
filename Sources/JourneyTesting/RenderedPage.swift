import Foundation

/// The figures of a `journeyd report` page (as written, or as a browser built it: `chromium --dump-dom`):
/// its `data-figure="KEY"` elements, their text and `data-value`.
public struct RenderedPage: Sendable, Equatable {
    public var texts: [String: String] = [:]
    public var values: [String: Double] = [:]

    public init(dom: String) {
        var rest = dom[...]
        while let found = rest.range(of: "data-figure=\"") {
            rest = rest[found.upperBound...]
            guard let keyEnd = rest.firstIndex(of: "\"") else { break }
            let key = String(rest[..<keyEnd])
            guard let tagEnd = rest.firstIndex(of: ">") else { break }
            let attributes = rest[keyEnd..<tagEnd]
            if let v = attributes.range(of: "data-value=\"") {
                let number = attributes[v.upperBound...].prefix { $0 != "\"" }
                values[key] = Double(number)
            }
            let text = rest[rest.index(after: tagEnd)...].prefix { $0 != "<" }
            texts[key] = String(text).replacingOccurrences(of: "&amp;", with: "&")
            rest = rest[tagEnd...]
        }
    }

    public subscript(_ key: String) -> String? { texts[key] }
    public func value(_ key: String) -> Double? { values[key] }
}
