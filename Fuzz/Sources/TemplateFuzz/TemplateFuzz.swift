// libFuzzer target for the Liquid template compiler and renderer (JourneyTemplates), built and run by
// scripts/fuzz.sh.
//
// The input is compiled as a template in each mode (text, HTML, header). A refusal must carry
// diagnostics that point inside the source; a template that compiles must render against a context
// with nested objects, arrays, numbers and hostile strings within the render limits or refuse with a
// limit error, and a header must come out as one line. AddressSanitizer checks the byte-level code.

import CFuzzDriver
import JourneyCore
import JourneyTemplates

let context = TemplateContext(
    user: [
        "first_name": "Ada <script>", "email": "ada@example.com", "points": 1250, "ratio": -0.5,
        "tags": ["vip", "{{ user.email }}", ""], "address": ["city": "Z\u{fc}rich", "zip": "8001"],
        "orders": [["id": 1, "total": 19.9], ["id": 2, "total": 5]], "empty": [:], "none": .null, "flag": true,
    ],
    userID: "u1",
    event: ["event": "Order Completed", "properties": ["total": 42, "items": [["sku": "A"], ["sku": "B"]]]],
    journey: ["id": "welcome"], touch: ["id": "t1"], unsubscribeURL: "https://example.com/u?x=1&y=2",
    now: Timestamp(milliseconds: 1_700_000_000_000))

@_cdecl("TemplateFuzz_main")
public func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    journeyd_fuzz_main(argc, argv) { data, size in fuzz(data!, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let source = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else { return 0 }
    let lines = 1 + source.utf8.count { $0 == UInt8(ascii: "\n") }
    for mode in [TemplateMode.text, .html, .header] {
        let template: LiquidTemplate
        do {
            template = try LiquidTemplate(source, mode: mode, file: "fuzz.liquid")
        } catch {
            precondition(!error.diagnostics.isEmpty, "a refusal without diagnostics")
            for diagnostic in error.diagnostics {
                precondition(diagnostic.file == "fuzz.liquid", "diagnostic in another file: \(diagnostic)")
                precondition((1...lines).contains(diagnostic.line) && diagnostic.column >= 1, "diagnostic outside the source: \(diagnostic)")
            }
            continue
        }
        let limits = RenderLimits()
        guard let output = try? template.render(context, limits: limits) else { continue }
        if mode == .header {
            precondition(!output.contains("\n") && !output.contains("\r"), "a header rendered to several lines")
        }
    }
    return 0
}
