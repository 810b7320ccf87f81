import Foundation
import JourneyCore
import JourneyTemplates
import PropertyBased
import Testing

/// Properties over random data and random templates.
@Suite("Template properties")
struct TemplatePropertyTests {
    /// Characters that matter to HTML, URLs, headers and the template syntax, plus ordinary ones.
    static let tricky: [Character] = [
        "<", ">", "&", "\"", "'", "=", "`", "\r", "\n", "\r\n", "\t", "\u{0}", "\u{0B}", "\u{0C}", "\u{1B}", "\u{7F}",
        "\u{85}", "\u{2028}", "\u{2029}", " ", "a", "Z", "0", "é", "中", "🎉", "{", "}", "%", "#", ";", ":", "/", "?", "+",
        "\\", "-", ".",
    ]
    static let data = Gen<Character?>.element(of: tricky).map { $0! }.string(of: 0...60)

    static func context(_ value: String) -> TemplateContext {
        TemplateContext(user: ["x": .string(value)], userID: "u", unsubscribeURL: value, zone: .utc)
    }

    /// Every `&` starts one of the entities the escaper writes.
    static func ampersandsAreEntities(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        let entities = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#61;", "&#96;", "&#32;", "&#9;", "&#10;", "&#12;", "&#13;"]
            .map { Array($0.utf8) }
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "&") {
            guard entities.contains(where: { bytes[i...].starts(with: $0) }) else { return false }
        }
        return true
    }

    @Test func htmlTextNeverCarriesMarkupFromData() async throws {
        let template = try LiquidTemplate("{{ user.x }}", mode: .html)
        await propertyCheck(count: 500, input: Self.data) { value in
            let out = try template.render(Self.context(value))
            #expect(!out.contains("<") && !out.contains(">") && !out.contains("\"") && !out.contains("'"), "\(value)")
            #expect(Self.ampersandsAreEntities(out), "\(value) → \(out)")
            #expect(!out.utf8.contains(0))
        }
    }

    @Test func attributeValuesNeverEndTheirAttribute() async throws {
        let quoted = try LiquidTemplate("<b title=\"{{ user.x }}\">", mode: .html)
        let unquoted = try LiquidTemplate("<b title={{ user.x }}>", mode: .html)
        await propertyCheck(count: 500, input: Self.data) { value in
            let q = try quoted.render(Self.context(value))
            #expect(q.dropFirst(10).dropLast(2).allSatisfy { $0 != "\"" && $0 != "<" && $0 != ">" }, "\(q)")
            let u = try unquoted.render(Self.context(value))
            let inner = u.dropFirst(9).dropLast(1)
            #expect(inner.unicodeScalars.allSatisfy { !" \t\n\r\u{0C}\"'<>=`".unicodeScalars.contains($0) }, "\(u)")
            #expect(Self.ampersandsAreEntities(String(inner)))
        }
    }

    @Test func urlsFromDataAreSafeOrInvalid() async throws {
        let template = try LiquidTemplate("{{ unsubscribe_url }}|{{ user.x }}", mode: .text)
        let link = try LiquidTemplate("<a href=\"{{ unsubscribe_url }}\">", mode: .html)
        let part = try LiquidTemplate("<a href=\"/p?q={{ user.x }}\">", mode: .html)
        let schemes = Gen<String?>.element(of: ["javascript:", "JavaScript:", "java\nscript:", " data:", "https://", "mailto:", "", "/", "vbscript:"]).map { $0! }
        let urls = zip(schemes, Self.data).map { $0 + $1 }
        await propertyCheck(count: 500, input: urls) { url in
            _ = try template.render(Self.context(url))
            let href = String(try link.render(Self.context(url)).dropFirst(9).dropLast(2))
            #expect(!href.contains("\"") && !href.contains("<") && !href.contains(" ") && !href.contains("'"), "\(href)")
            let lowered = href.lowercased()
            #expect(!lowered.contains("script:") && !lowered.hasPrefix("data:"), "\(url) → \(href)")
            let query = String(try part.render(Self.context(url)).dropFirst(15).dropLast(2))
            #expect(query.utf8.allSatisfy { b in
                (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || "-._~%".utf8.contains(b)
            }, "\(query)")
        }
    }

    @Test func headersAreAlwaysOneShortLine() async throws {
        let subject = try LiquidTemplate("Hi {{ user.x }} and {{ user.x | upcase }}!", mode: .header)
        let long = Self.data.map { String(repeating: $0, count: 40) }
        await propertyCheck(count: 500, input: long) { value in
            let line = try subject.render(Self.context(value))
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == "\u{85}" || $0 == "\u{2028}" || $0 == "\u{2029}" }, "\(line.debugDescription)")
            #expect(line.utf8.count <= 998)
            #expect(!line.hasPrefix(" ") && !line.hasSuffix(" "))
        }
    }

    @Test func textPartsKeepDataExactlyButNUL() async throws {
        let template = try LiquidTemplate("[{{ user.x }}]")
        await propertyCheck(count: 500, input: Self.data) { value in
            let out = try template.render(Self.context(value))
            #expect(out == "[\(value.replacingNUL)]")
        }
    }

    /// Pieces of template syntax, valid and not, to assemble random templates from.
    static let pieces: [String] = [
        "{{", "}}", "{%", "%}", "{{-", "-}}", "{%-", "-%}", " ", "x", "user.x", "user.tags", "forloop.index", "|",
        "upcase", "default:", "\"a\"", "'b'", "1", "-2", "3.5", "(1..3)", "(1..100000000)", "if", "elsif", "else", "endif",
        "for", "in", "endfor", "case", "when", "endcase", "unless", "endunless", "assign", "=", "capture", "endcapture",
        "raw", "endraw", "comment", "endcomment", "break", "continue", "and", "or", "==", "<", "contains", "blank", "empty",
        "[", "]", ".", ",", ":", "times:", "append:", "split:", "date:", "\"%Y\"", "divided_by:", "0", "modulo:", "slice:",
        "truncate:", "<a href=\"", "\">", "<script>", "</script>", "\n", "é", "🎉", "limit:", "reversed", "offset:",
    ]
    static let randomTemplates = Gen<String?>.element(of: pieces).map { $0! }.array(of: 0...40).map { $0.joined() }

    @Test func anyTemplateEitherFailsToCompileOrRenders() async {
        let limits = RenderLimits(maxOutputBytes: 1 << 20, maxIterations: 10_000)
        await propertyCheck(count: 2000, input: Self.randomTemplates) { source in
            for mode in [TemplateMode.text, .html, .header] {
                do throws(TemplateCompileError) {
                    let template = try LiquidTemplate(source, mode: mode)
                    _ = try? template.render(Samples.context, limits: limits)
                } catch {
                    #expect(!error.errors.isEmpty)
                    for d in error.diagnostics { #expect(d.line >= 1 && d.column >= 1, "\(source): \(d)") }
                }
            }
        }
    }

    /// Template pieces that are each well formed (blocks may still be left open or closed twice).
    static let shapes = [
        "{{ E F }}", "{% if E %}", "{% elsif E == E %}", "{% else %}", "{% endif %}", "{% unless E contains E %}",
        "{% endunless %}", "{% for v in E limit: 2 %}", "{% for v in E reversed %}{{ v F }}", "{% endfor %}",
        "{% assign v = E F %}", "{{ v F }}", "{% case E %}{% when E, E %}", "{% endcase %}", "{% capture c %}",
        "{% endcapture %}{{ c F }}", "{% break %}", "{% continue %}", "<a href=\"", "\">", "<p title='", "'>", "text\n",
        "{{ forloop.index F }}", "{%- echo E F -%}",
    ]
    static let expressions = [
        "user.x", "user.tags", "user.tags[0]", "event.properties.items", "1", "\"a,b\"", "(1..3)", "nil", "blank",
        "user.missing.deep", "enrollment.trigger", "v", "c", "-3.5", "event.properties.items[-1].price",
    ]
    static let filters = [
        "", " | upcase", " | default: 'd', allow_false: true", " | size", " | split: ','", " | join: '-'", " | plus: 1",
        " | divided_by: 0", " | modulo: 0", " | date: '%Y %Z %-d'", " | truncate: 3", " | slice: -2, 9", " | url_encode",
        " | escape", " | json", " | sort", " | uniq", " | first", " | map: 'price'", " | newline_to_br", " | times: 1000000",
        " | append: v", " | where: 'price', 20", " | compact", " | reverse", " | round: 2", " | strip_html", " | abs",
    ]
    static let structuredTemplates = zip(
        Gen<String?>.element(of: shapes).map { $0! }, Gen<String?>.element(of: expressions).map { $0! },
        Gen<String?>.element(of: expressions).map { $0! }, Gen<String?>.element(of: filters).map { $0! }
    ).map { shape, a, b, filter in
        shape.replacingOccurrences(of: "E == E", with: "\(a) == \(b)").replacingOccurrences(of: "E contains E", with: "\(a) contains \(b)")
            .replacingOccurrences(of: "E, E", with: "\(a), \(b)").replacingOccurrences(of: "E", with: a)
            .replacingOccurrences(of: "F", with: filter)
    }.array(of: 0...30).map { $0.joined() }

    @Test func structuredTemplatesCompileOrFailCleanlyAndRenderWithinLimits() async {
        let limits = RenderLimits(maxOutputBytes: 1 << 20, maxIterations: 10_000)
        await propertyCheck(count: 2000, input: Self.structuredTemplates) { source in
            for mode in [TemplateMode.text, .html, .header] {
                do throws(TemplateCompileError) {
                    let template = try LiquidTemplate(source, mode: mode)
                    _ = try? template.render(Samples.context, limits: limits)
                    _ = try? template.render(TemplateContext(), limits: limits)
                } catch {
                    #expect(!error.errors.isEmpty)
                }
            }
        }
    }

    /// A random template whose blocks are all balanced (so most of them compile), from a seed.
    static func balancedTemplate(seed: UInt64, mode: TemplateMode) -> String {
        var random = SplitMix(seed: seed)
        func pick(_ items: [String]) -> String { items.randomElement(using: &random)! }
        func expression() -> String { pick(expressions) }
        func output() -> String { "{{ \(expression())\(pick(filters))\(pick(filters)) }}" }
        func block(_ depth: Int) -> String {
            var out = ""
            for _ in 0..<Int.random(in: 0...4, using: &random) {
                switch Int.random(in: 0...(depth > 3 ? 2 : 9), using: &random) {
                case 0: out += pick(["Hi ", "\n", " & ", "<b>", "</b>", "é🎉", "<a href=\"/x?q=", "\">link</a>"])
                case 1: out += output()
                case 2: out += "{% assign v = \(expression())\(pick(filters)) %}"
                case 3: out += "{% if \(expression()) == \(expression()) %}\(block(depth + 1)){% elsif \(expression()) %}\(block(depth + 1)){% else %}\(block(depth + 1)){% endif %}"
                case 4: out += "{% for v in \(expression()) limit: 3 reversed %}\(block(depth + 1)){{ forloop.index }}{% if forloop.last %}{% break %}{% endif %}{% else %}none{% endfor %}"
                case 5: out += "{% case \(expression()) %}{% when \(expression()), \(expression()) %}\(block(depth + 1)){% else %}\(block(depth + 1)){% endcase %}"
                case 6: out += "{% capture c %}\(block(depth + 1)){% endcapture %}{{ c\(pick(filters)) }}"
                case 7: out += "{% unless \(expression()) contains \(expression()) or \(expression()) %}\(block(depth + 1)){% endunless %}"
                case 8: out += "{%- echo \(expression())\(pick(filters)) -%}"
                default: out += "{% raw %}{{ not parsed }}{% endraw %}{% comment %}{{ x }}{% endcomment %}"
                }
            }
            return out
        }
        return block(0)
    }

    @Test func balancedRandomTemplatesCompileAndRender() async {
        let limits = RenderLimits(maxOutputBytes: 1 << 20, maxIterations: 10_000)
        await propertyCheck(count: 1000, input: Gen.uint64(in: 0...UInt64.max)) { seed in
            for mode in [TemplateMode.text, .html] {
                let source = Self.balancedTemplate(seed: seed, mode: mode)
                do throws(TemplateCompileError) {
                    let template = try LiquidTemplate(source, mode: mode)
                    _ = try? template.render(Samples.context, limits: limits)
                    _ = try? template.render(TemplateContext(), limits: limits)
                } catch {
                    // Balanced blocks with known tags and filters compile, except where a value lands in a tag.
                    #expect(mode == .html && error.errors.allSatisfy { $0.message.contains("cannot be output") }, "\(source): \(error)")
                }
            }
        }
    }

    @Test func wellFormedLoopsUnderTheLimitsRenderAndRunawayOnesThrow() throws {
        let nested = try LiquidTemplate("{% for a in (1..1000) %}{% for b in (1..1000) %}x{% endfor %}{% endfor %}")
        #expect(throws: TemplateRenderError.self) { try nested.render(Samples.context) }
        let fine = try LiquidTemplate("{% for a in (1..100) %}{% for b in (1..100) %}x{% endfor %}{% endfor %}")
        #expect(try fine.render(Samples.context).count == 10_000)
    }
}

extension String {
    var replacingNUL: String { String(String.UnicodeScalarView(unicodeScalars.filter { $0 != "\u{0}" })) }
}
