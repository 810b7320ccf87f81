import Foundation
import JourneyCore
import JourneyTemplates
import Testing

/// Every template shipped in `rules/templates/` compiles without a warning and renders with a sample
/// context, with and without the traits it uses.
@Suite("Bundled templates")
struct BundledTemplatesTests {
    static let directory: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("rules/templates").path
    }()

    static let names: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Set(files.filter { !$0.hasPrefix(".") }.map { String($0.prefix { $0 != "." }) }).sorted()
    }()

    func load(_ name: String) throws -> MessageTemplate {
        func source(_ suffix: String) -> TemplateSource? {
            let path = "\(Self.directory)/\(name)\(suffix)"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            return TemplateSource(file: "templates/\(name)\(suffix)", text: text)
        }
        return try MessageTemplate(name: name, text: source(".liquid"), html: source(".html.liquid"))
    }

    @Test func thereAreBundledTemplates() {
        #expect(Self.names.count >= 10)
    }

    @Test(arguments: Self.names)
    func compilesCleanlyAndRenders(_ name: String) throws {
        let template = try load(name)
        #expect(template.warnings.isEmpty, "\(template.warnings)")
        let message = try template.render(Samples.context)
        let body = message.text ?? message.html ?? ""
        #expect(!body.isEmpty || message.subject != nil)
        for part in [message.subject, message.text, message.html].compactMap({ $0 }) {
            #expect(!part.contains("{{") && !part.contains("{%"), "\(name): \(part)")
        }
        // A user with no traits at all still gets a whole message (defaults, empty values).
        let bare = TemplateContext(userID: "u2", zone: .utc)
        _ = try template.render(bare)
    }

    @Test func theyReadAsIntended() throws {
        #expect(try load("welcome_hello").render(Samples.context).subject == "Welcome, Ada!")
        #expect(try load("welcome_hello").render(TemplateContext(zone: .utc)).subject == "Welcome, there!")
        #expect(try load("renewal_reminder").render(Samples.context).subject == "Your membership renews on March 15")
        var enrollment = Samples.context
        enrollment.enrollment = ["trigger": ["properties": ["cart_id": "c-9", "sku": "Red shoes"]]]
        #expect(try load("cart_reminder").render(enrollment).text == "Your cart c-9 is waiting: Red shoes.\n")
        enrollment.enrollment = ["trigger": ["properties": ["cart_id": "c/9 & <x>", "sku": "<b>Red</b>"]]]
        #expect(
            try load("cart_reminder").render(enrollment).html == """
                <p>Your cart c/9 &amp; &lt;x&gt; is waiting: &lt;b&gt;Red&lt;/b&gt;.</p>
                <p><a href="https://shop.example/cart/c%2F9%20%26%20%3Cx%3E">Back to your cart</a></p>
                <p style="font-size: 12px"><a href="https://example.com/unsubscribe?u=u1&amp;c=email">Unsubscribe</a></p>

                """)
        var cn = Samples.context
        cn.user = ["country": "CN"]
        #expect(try load("welcome_offer").render(cn).text == "首单九折\n")
    }
}
