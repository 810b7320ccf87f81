// libFuzzer target for the control socket's request parser (JourneyCore's ControlRequest), built and
// run by scripts/fuzz.sh.
//
// Any bytes give a request or a reason, never a trap; an accepted request written back in its
// canonical form parses to the same request; a refusal is one line that names what to send instead.

import CFuzzDriver
import JourneyCore

@_cdecl("ControlRequestFuzz_main")
public func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    journeyd_fuzz_main(argc, argv) { data, size in fuzz(data!, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeBufferPointer(start: data, count: size)
    switch ControlRequest.parse(input) {
    case .success(let request):
        let text: String
        switch request {
        case .reload: text = "reload"
        case .status: text = "status"
        case .report: text = "report"
        case .explain(let user):
            precondition(!user.isEmpty, "explain without a user")
            text = "explain \(user)"
        case .forget(let user):
            precondition(!user.isEmpty, "forget without a user")
            text = "forget \(user)"
        case .stall(let seconds):
            precondition((0...3600).contains(seconds), "stall outside its bounds: \(seconds)")
            text = "stall \(seconds)"
        case .clock(let step):
            let magnitude = TimeSpan(milliseconds: step.milliseconds.magnitude == 0 ? 0 : Int64(step.milliseconds.magnitude))
            text = "clock \(step.milliseconds < 0 ? "-" : "+")\(magnitude)"
        }
        guard case .success(let again) = ControlRequest.parse(Array(text.utf8)) else {
            preconditionFailure("own canonical form refused: \(text)")
        }
        precondition(again == request, "canonical form \(text) parsed to \(again), not \(request)")
    case .failure(let error):
        precondition(!error.description.isEmpty && !error.description.contains("\n"), "refusal must be one line: \(error)")
    }
    return 0
}
