import Foundation
import NIOCore

/// Why a listener could not start, in the words of the system call (`address already in use`) rather
/// than NIO's description of the call that failed.
public struct ListenFailure: Error, CustomStringConvertible {
    public let description: String

    /// Runs a server; an I/O error it throws becomes a ``ListenFailure`` naming the errno.
    static func reporting(_ run: () async throws -> Void) async throws {
        do {
            try await run()
        } catch let error as IOError {
            let reason = String(cString: strerror(error.errnoCode)).lowercased()
            throw ListenFailure(description: "\(reason) (errno \(error.errnoCode))")
        }
    }
}
