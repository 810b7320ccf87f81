// libFuzzer target for the HTTP input's request bodies (TrackingBody, JourneyEvents), built and run by
// scripts/fuzz.sh. The first byte picks the endpoint (a single event or a batch) and whether a receipt
// time is stamped; the rest is the body. Invariants on what comes out:
// - a refusal names an event index inside the batch (or none) and a one-line reason;
// - every event line is a JSON object (or one the event parser refuses with a reason), has no `writeKey`, carries the endpoint's `type` when
//   single, `receivedAt` when stamped, and is no bigger than the event limit plus what was spliced in;
// - a body refused as a whole yields no lines, and the same body cut twice gives the same lines.
// AddressSanitizer checks the byte-slicing underneath.

import CFuzzDriver
import JourneyCore
import JourneyEvents

@_cdecl("TrackingBodyFuzz_main")
public func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    journeyd_fuzz_main(argc, argv) { data, size in fuzz(data!, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let endpoint: TrackingBody.Endpoint = selector & 1 == 0 ? .batch : .single(type: "track")
    let received: Timestamp? = selector & 2 == 0 ? nil : Timestamp(milliseconds: 1_764_547_200_123)
    let limit = 512
    let cut: TrackingBody
    do {
        cut = try TrackingBody(body, endpoint: endpoint, maxEventBytes: limit, receivedAt: received)
    } catch {
        if let index = error.index { precondition(index >= 0 && index < body.count, "index \(index) outside a \(body.count)-byte body") }
        precondition(!error.reason.isEmpty && !error.description.contains("\n"), "reason: \(error.description)")
        return 0
    }
    for line in cut.lines {
        guard case .object(let members) = try? JSONParser(maxDepth: 64).parse(line) else {
            // The cutter checks structure, not every byte (a string with invalid UTF-8 passes): such an
            // event is the event parser's to refuse, with a reason — quarantined, never dropped silently.
            guard case .failure(let rejection) = SegmentEventParser().parse(line) else {
                preconditionFailure("not a JSON object, yet accepted: \(String(decoding: line, as: UTF8.self))")
            }
            precondition(!rejection.reason.isEmpty)
            continue
        }
        precondition(!members.contains { $0.key == "writeKey" }, "writeKey kept")
        if case .single = endpoint { precondition(members.contains { $0.key == "type" }, "no type") }
        if received != nil {
            precondition(members.filter { $0.key == "receivedAt" }.count == 1, "receivedAt missing or doubled")
        }
    }
    let again = try? TrackingBody(body, endpoint: endpoint, maxEventBytes: limit, receivedAt: received)
    precondition(again?.lines == cut.lines, "the same body cut twice differs")
    return 0
}
