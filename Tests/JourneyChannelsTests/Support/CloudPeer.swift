import Foundation
import JourneyCore

/// `Peers/cloud_peer.py` for one test: the receivers of the Chinese clouds and push services, checking
/// signatures and tokens the way the providers do. Accepted sends are read back from its output file.
struct CloudPeer: Sendable {
    var port: Int
    var out: String

    var url: String { "http://127.0.0.1:\(port)" }

    /// Every accepted send, in order, as the peer recorded it.
    func records() throws -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: out, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map {
            guard let object = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] else { throw TestFailure("not an object: \($0)") }
            return object
        }
    }

    /// The peer's counters (token fetches), from its stats file.
    func stats() throws -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: out + ".stats") else { return [:] }
        return (try JSONSerialization.jsonObject(with: data) as? [String: Int]) ?? [:]
    }
}

/// Runs `body` with a started cloud peer (its output in `dir`), stopped afterwards whatever happens.
func withCloudPeer<T>(in dir: String, _ arguments: [String], _ body: (CloudPeer) async throws -> T) async throws -> T {
    let out = "\(dir)/peer-\(UUID().uuidString).jsonl"
    return try await withPythonPeer("cloud_peer.py", ["--out", out] + arguments) { peer in
        try await body(CloudPeer(port: peer.port, out: out))
    }
}

/// The phone number whose last digits steer the cloud peer to `behavior`.
func steeringPhone(_ behavior: PeerBehavior) -> String {
    switch behavior {
    case .accept: return "+8613800138000"
    case .transient: return "+8613800130001"
    case .permanent: return "+8613800130002"
    case .hang: return "+8613800130003"
    }
}
