import Hummingbird
import JourneyCore
import NIOCore
import JourneyEvents

/// The Tracking API's answers, as JSON bodies (see ``IngestServer``).
extension Response {
    static func json(_ status: HTTPResponse.Status, _ value: Value, retryAfter: Int? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.jsonText)))
    }

    /// `200 {"success":true}`, the usual answer: its body written once, not per request.
    static var success: Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: successBody))
    }
    private static let successBody = ByteBuffer(string: Value.object([Value.Member("success", true)]).jsonText)

    static var unauthorized: Response {
        var response = json(.unauthorized, ["success": false, "reason": "missing or unknown write key"])
        response.headers[.wwwAuthenticate] = #"Basic realm="journeyd""#
        return response
    }

    static func badRequest(_ problem: TrackingBody.Problem) -> Response {
        var members: [Value.Member] = [Value.Member("success", false)]
        if let index = problem.index { members.append(Value.Member("index", .number(Double(index)))) }
        members.append(Value.Member("reason", .string(problem.reason)))
        return json(.badRequest, .object(members))
    }

    static func answer(_ answer: HTTPSource.Answer, retryAfter: Int) -> Response {
        switch answer {
        case .busy:
            return json(.tooManyRequests, ["success": false, "reason": "the queue is full; retry later"], retryAfter: retryAfter)
        case .refused(let reason):
            return json(.serviceUnavailable, ["success": false, "reason": .string("not stored: \(reason)")], retryAfter: retryAfter)
        case .durable(let outcomes):
            var quarantined: [Value] = []
            for (index, outcome) in outcomes.enumerated() {
                if case .rejected(let path, let reason) = outcome {
                    quarantined.append(["index": .number(Double(index)), "path": .string(path), "reason": .string(reason)])
                }
            }
            guard !quarantined.isEmpty else { return .success }
            let accepted = outcomes.count - quarantined.count
            return json(
                accepted > 0 ? .ok : .badRequest,
                ["success": .bool(accepted > 0), "accepted": .number(Double(accepted)), "quarantined": .array(quarantined)])
        }
    }
}
