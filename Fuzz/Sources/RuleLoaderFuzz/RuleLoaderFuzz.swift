// libFuzzer target for the rule loader (JourneyRules): the YAML reader, the journey parser and the
// expression language, built and run by scripts/fuzz.sh.
//
// The input is compiled as one journey file. Whatever it holds, the loader answers with a journey or
// with diagnostics, never a trap; every diagnostic names the file and a line and column inside it (or line 0, the whole file), and
// a journey comes back only when no error was reported. Compiling the same text twice gives the same
// answer (the loader is deterministic: its content hash pins users to a version).

import CFuzzDriver
import JourneyCore
import JourneyRules

let channels: Set<String> = ["email", "sms", "webhook"]
let templates: Set<String> = ["welcome", "cart_reminder"]

@_cdecl("RuleLoaderFuzz_main")
public func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    journeyd_fuzz_main(argc, argv) { data, size in fuzz(data!, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let source = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else { return 0 }
    let lines = yamlLineCount(source)
    let (journey, diagnostics) = RuleLoader.compileJourney(
        source: source, file: "journeys/fuzz.yaml", channels: channels, templates: templates)
    for diagnostic in diagnostics {
        precondition(diagnostic.file == "journeys/fuzz.yaml", "diagnostic in another file: \(diagnostic)")
        // Line 0 is a problem of the whole file; any other position lies inside the text.
        precondition(diagnostic.line == 0 || ((1...lines + 1).contains(diagnostic.line) && diagnostic.column >= 1),
                     "diagnostic outside the source: \(diagnostic)")
        precondition(!diagnostic.message.isEmpty, "a diagnostic without a message")
    }
    let errors = diagnostics.filter { $0.severity == .error }
    precondition(journey == nil || errors.isEmpty, "a journey despite errors: \(errors)")
    precondition(journey != nil || !errors.isEmpty, "neither a journey nor an error")
    let (again, diagnosticsAgain) = RuleLoader.compileJourney(
        source: source, file: "journeys/fuzz.yaml", channels: channels, templates: templates)
    precondition(diagnosticsAgain == diagnostics && (again == nil) == (journey == nil), "two compilations disagree: \(diagnostics) then \(diagnosticsAgain)")
    if let journey, let again { precondition(journey.version == again.version, "the content hash moved") }
    return 0
}

/// Lines as YAML counts them: CR LF, a lone CR and a lone LF each end one.
func yamlLineCount(_ text: String) -> Int {
    let bytes = Array(text.utf8)
    var lines = 1
    for (i, byte) in bytes.enumerated() where byte == 10 || (byte == 13 && (i + 1 == bytes.count || bytes[i + 1] != 10)) {
        lines += 1
    }
    return lines
}
