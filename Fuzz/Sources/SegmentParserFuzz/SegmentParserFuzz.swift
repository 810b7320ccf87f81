// libFuzzer target for the JSON and Segment parsers (JourneyEvents), built and run by scripts/fuzz.sh.
//
// Each input goes through three doors, with invariants checked on what comes out:
// - JSONParser: a value it accepts must come back unchanged from its own JSON text;
// - SegmentEventParser: an accepted event must round-trip through `Event.jsonValue`, and a rejection
//   must point inside the input, with a JSON path and a one-line description;
// - JSONLineReader + parseLines: one result per line, numbered in order, offsets inside the input.
// AddressSanitizer checks the unsafe-pointer code underneath.

import CFuzzDriver
import JourneyCore
import JourneyEvents

@_cdecl("SegmentParserFuzz_main")
public func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    journeyd_fuzz_main(argc, argv) { data, size in fuzz(data!, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)

    // 1. Generic JSON.
    if let value = try? JSONParser(maxDepth: 32).parse(input) {
        let text = value.jsonText
        do {
            let again = try JSONParser(maxDepth: 32).parse(text)
            precondition(again == value, "JSON round trip changed the value: \(text)")
        } catch {
            preconditionFailure("own output refused: \(error) for \(text)")
        }
    }

    // 2. One Segment event.
    let parser = SegmentEventParser(options: .init(maxEventBytes: 4096, requireMessageId: size % 2 == 0))
    switch parser.parse(input, lineNumber: 7, byteOffset: 100, source: "fuzz") {
    case .success(let event):
        precondition(!event.userId.isEmpty && !event.messageId.isEmpty)
        let text = event.jsonValue.jsonText
        switch SegmentEventParser().parse(text) {
        case .success(let again):
            precondition(again == event, "event round trip changed it: \(text)")
        case .failure(let rejection):
            preconditionFailure("own output refused: \(rejection) for \(text)")
        }
    case .failure(let rejection):
        precondition(rejection.byteOffset >= 100 && rejection.byteOffset <= 100 + size, "offset outside: \(rejection)")
        precondition(rejection.path.hasPrefix("$") && !rejection.reason.isEmpty)
        precondition(!rejection.description.contains("\n"), "multi-line description")
    }

    // 3. As a JSONL document.
    var expectedLine = 1
    var lastOffset = -1
    parser.parseLines(in: input, source: "fuzz.jsonl") { result in
        if case .failure(let rejection) = result {
            precondition(rejection.line == expectedLine, "line \(rejection.line), expected \(expectedLine)")
            precondition(rejection.byteOffset >= 0 && rejection.byteOffset <= size)
            precondition(rejection.byteOffset > lastOffset, "offsets must grow from line to line")
            lastOffset = rejection.byteOffset
        }
        expectedLine += 1
    }
    var newlines = 0
    for byte in input where byte == 0x0A { newlines += 1 }
    let lines = newlines + (size > 0 && input[size - 1] != 0x0A ? 1 : 0)
    precondition(expectedLine - 1 == lines, "\(expectedLine - 1) results for \(lines) lines")
    return 0
}
