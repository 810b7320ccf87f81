import Foundation
import JourneyCore
import JourneyTemplates
import Testing

/// Every template shipped in `rules/templates/` compiles without a warning and renders with a sample
/// context, with and without the traits it uses; the emails share a header and a footer partial
/// (`_header.liquid`, `_footer.liquid` and their `.html.liquid` twins).
@Suite("Bundled templates")
struct BundledTemplatesTests {
    static let directory: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("rules/templates").path
    }()

    static let names: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Set(files.filter { !$0.hasPrefix(".") && !$0.hasPrefix("_") }.map { String($0.prefix { $0 != "." }) }).sorted()
    }()

    func load(_ name: String) throws -> MessageTemplate {
        func source(_ suffix: String) -> TemplateSource? {
            let path = "\(Self.directory)/\(name)\(suffix)"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            return TemplateSource(file: "templates/\(name)\(suffix)", text: text)
        }
        return try MessageTemplate(
            name: name, text: source(".liquid"), html: source(".html.liquid"),
            partials: .directory(Self.directory, shownAs: "templates"))
    }

    @Test func thereAreBundledTemplates() {
        #expect(Self.names.count >= 10)
    }

    @Test func everyEmailHasTheSharedHeaderAndFooter() throws {
        for name in ["birthday", "cart_reminder", "welcome_hello", "win_back"] {
            let message = try load(name).render(Samples.context)
            #expect(message.text?.hasPrefix("Shop Example · shop.example\n\n") == true, "\(name)")
            #expect(message.text?.contains("\n-- \nShop Example, 1 Market Street.") == true, "\(name)")
        }
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
        #expect(
            try load("cart_reminder").render(enrollment).text == """
                Shop Example · shop.example

                Your cart c-9 is waiting: Red shoes.

                -- 
                Shop Example, 1 Market Street. You get this email because you have an account with us.
                Unsubscribe: https://example.com/unsubscribe?u=u1&c=email

                """)
        enrollment.enrollment = ["trigger": ["properties": ["cart_id": "c/9 & <x>", "sku": "<b>Red</b>"]]]
        #expect(
            try load("cart_reminder").render(enrollment).html == """
                <p style="font-weight: bold">Shop Example</p>
                <p>Your cart c/9 &amp; &lt;x&gt; is waiting: &lt;b&gt;Red&lt;/b&gt;.</p>
                <p><a href="https://shop.example/cart/c%2F9%20%26%20%3Cx%3E">Back to your cart</a></p>
                <p style="font-size: 12px">Shop Example, 1 Market Street. You get this email because you have an account with us. <a href="https://example.com/unsubscribe?u=u1&amp;c=email">Unsubscribe</a></p>

                """)
        var cn = Samples.context
        cn.user = ["country": "CN"]
        #expect(try load("welcome_offer").render(cn).text?.contains("\n首单九折\n") == true)
        // Without an unsubscribe link, the footer says nothing about one.
        cn.unsubscribeURL = .null
        #expect(try load("welcome_offer").render(cn).text?.contains("Unsubscribe") == false)
    }
}
