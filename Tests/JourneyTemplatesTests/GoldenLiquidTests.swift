import Foundation
import JourneyCore
import JourneyEvents
import JourneyTemplates
import Testing

/// The Golden Liquid conformance suite (`Fixtures/golden-liquid/golden_liquid.json`, MIT, see its
/// LICENSE beside it): every case runs through the engine with its `data` as top-level variables
/// (``TemplateScope/open``) and its `templates` as partials. A valid case must render one of its results;
/// an invalid one must be refused, when compiled or when rendered. The cases we differ from on purpose
/// are listed in ``GoldenLiquidTests/deliberateDifferences`` with the reason, and must still differ (so
/// that the list stays true).
@Suite("Golden Liquid")
struct GoldenLiquidTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var template: String
        var data: [String: Value]
        var partials: [String: String]
        /// Any one of these is right; empty for an invalid case.
        var results: [String]
        var invalid: Bool
        var testDescription: String { name }
    }

    /// What the engine did with a case.
    enum Outcome: Equatable {
        case rendered(String)
        case refused(String)
    }

    /// Cases where journeyd renders differently from Shopify's Liquid on purpose, and why.
    static let deliberateDifferences: [String: String] = {
        let oneNumberType =
            "numbers are one type (JSON's, as in every journeyd value): a whole number computed with a float renders without `.0`"
        var differences: [String: String] = [
            "tags, case, unexpected when token":
                "`and` in a `when` is an error, as in the suite's strict2 case of the same template, not silently ignored"
        ]
        for name in [
            "filters, default, 0.0 is not falsy", "filters, divided by, integer value and float arg",
            "filters, divided by, render", "filters, divided by, zero divided by float",
            "filters, minus, integer value and float arg", "filters, minus, string not a number",
            "filters, modulo, integer value and float arg", "filters, modulo, string not a number",
            "filters, modulo, string value and argument", "filters, plus, integer value and float arg",
            "filters, plus, string not a number",
        ] {
            differences[name] = oneNumberType
        }
        return differences
    }()

    static let cases: [Case] = {
        guard
            let url = Bundle.module.url(
                forResource: "golden_liquid", withExtension: "json", subdirectory: "Fixtures/golden-liquid"),
            let bytes = FileManager.default.contents(atPath: url.path),
            let root = try? JSONParser(maxDepth: 256).parse(Array(bytes))
        else { return [] }
        return (root["tests"]?.arrayValue ?? []).map { test in
            var data: [String: Value] = [:]
            for member in test["data"]?.members ?? [] { data[member.key] = member.value }
            var partials: [String: String] = [:]
            for member in test["templates"]?.members ?? [] { partials[member.key] = member.value.stringValue ?? "" }
            var results = (test["results"]?.arrayValue ?? []).compactMap(\.stringValue)
            if let result = test["result"]?.stringValue { results.insert(result, at: 0) }
            return Case(
                name: test["name"]?.stringValue ?? "?", template: test["template"]?.stringValue ?? "", data: data,
                partials: partials, results: results, invalid: test["invalid"]?.boolValue ?? false)
        }
    }()

    static func run(_ test: Case) -> Outcome {
        do {
            let template = try LiquidTemplate(test.template, scope: .open, partials: TemplatePartials(test.partials))
            return .rendered(try template.render(TemplateContext(variables: test.data)))
        } catch {
            return .refused("\(error)")
        }
    }

    static func passes(_ test: Case, _ outcome: Outcome) -> Bool {
        switch outcome {
        case .rendered(let output): return !test.invalid && test.results.contains(output)
        case .refused: return test.invalid
        }
    }

    @Test func theSuiteIsBundledWhole() {
        #expect(Self.cases.count == 1054)
        #expect(Self.cases.filter(\.invalid).count == 126)
    }

    @Test(arguments: cases)
    func conforms(_ test: Case) {
        let outcome = Self.run(test)
        if let reason = Self.deliberateDifferences[test.name] {
            #expect(!Self.passes(test, outcome), "listed as a deliberate difference (\(reason)), yet it passes")
            return
        }
        if test.invalid {
            #expect(Self.passes(test, outcome), "an invalid template was rendered: \(outcome)")
        } else {
            #expect(Self.passes(test, outcome), "want \(test.results.first.debugDescription), got \(outcome)")
        }
    }

    /// The figure the issue asks for: at least 98 % of the valid cases, and every invalid case.
    @Test func atLeastNinetyEightPercentOfValidCasesPassAndEveryInvalidCaseIsRefused() {
        let valid = Self.cases.filter { !$0.invalid }
        let invalid = Self.cases.filter(\.invalid)
        let validPassed = valid.filter { Self.passes($0, Self.run($0)) }.count
        let invalidRefused = invalid.filter { Self.passes($0, Self.run($0)) }.count
        #expect(Double(validPassed) >= 0.98 * Double(valid.count), "\(validPassed) of \(valid.count) valid cases pass")
        #expect(invalidRefused == invalid.count, "\(invalidRefused) of \(invalid.count) invalid cases are refused")
        #expect(valid.count - validPassed == Self.deliberateDifferences.count)
    }
}
