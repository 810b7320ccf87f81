import Foundation
import JourneyCore

/// The named fields of a provider-side template (an SMS cloud's template parameters, a WeChat template's
/// `data`, a push's `data`), read from the touch's rendered body: one `name: value` line per field, in
/// order, blank lines ignored. The journey's Liquid template renders the values, so they are personal
/// and escaped like any text body:
///
/// ```liquid
/// thing1: {{ enrollment.trigger.properties.sku }}
/// amount2: {{ enrollment.trigger.properties.price | round: 2 }}
/// ```
struct TemplateFields: Sendable, Hashable {
    var fields: [(name: String, value: String)]

    static func == (a: TemplateFields, b: TemplateFields) -> Bool {
        a.fields.map(\.name) == b.fields.map(\.name) && a.fields.map(\.value) == b.fields.map(\.value)
    }
    func hash(into hasher: inout Hasher) {
        for field in fields { hasher.combine(field.name); hasher.combine(field.value) }
    }

    /// The fields of `text`, or why it is not a field list (the value never appears in the reason: it
    /// is personal data).
    static func parse(_ text: String) -> Result<TemplateFields, Problem> {
        var fields: [(name: String, value: String)] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let colon = trimmed.firstIndex(of: ":") else {
                return .failure(Problem(message: "line \(index + 1) of the rendered template is not `name: value`"))
            }
            let name = trimmed[..<colon].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
                return .failure(Problem(message: "line \(index + 1) of the rendered template has no field name before its colon"))
            }
            if fields.contains(where: { $0.name == name }) {
                return .failure(Problem(message: "field \"\(name)\" is rendered twice"))
            }
            fields.append((name, trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return .success(TemplateFields(fields: fields))
    }

    struct Problem: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The fields as a JSON object of texts (`{"code":"1234"}`), in order.
    var jsonObject: Value { .object(fields.map { .init($0.name, .string($0.value)) }) }
}

extension OutboundMessage {
    /// The recipient's E.164 number (spaces and dashes removed) from trait `name`, nil when absent or not E.164.
    func e164Phone(trait name: String) -> String? {
        guard let raw = trait(name) else { return nil }
        let number = raw.filter { $0 != " " && $0 != "-" }
        return SMSAdapter.isE164(number) ? number : nil
    }
}
