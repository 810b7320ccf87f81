import Crypto
import Foundation
import JourneyCore
import Synchronization
import Testing
import struct JourneyTesting.TestCertificates

@testable import JourneyChannels

/// `Peers/apns_peer.py` for one test: APNs on loopback, HTTP/2 over TLS with a throwaway CA, checking the
/// provider token with the signing key's public key. Accepted sends are read back from its output file.
enum APNsPeer {
    static let keyID = "ABC123DEFG"
    static let teamID = "DEF123GHIJ"
    static let topic = "com.example.shop"

    /// An APNs signing key as the developer account hands it out (PKCS #8 PEM, P-256), its public key,
    /// and the peer's TLS certificates.
    struct Keys: Sendable {
        var p8: String
        var publicKeyFile: String
        var certificates: TestCertificates

        static func make(in dir: String) throws -> Keys {
            try TestCertificates.makeP256Key(at: "\(dir)/AuthKey.p8")
            return Keys(
                p8: try String(contentsOfFile: "\(dir)/AuthKey.p8", encoding: .utf8), publicKeyFile: "\(dir)/AuthKey.p8.pub",
                certificates: try TestCertificates.make(in: dir))
        }

        /// The public key as swift-crypto reads it, to verify tokens on this side too.
        var publicKey: P256.Signing.PublicKey {
            get throws { try P256.Signing.PublicKey(pemRepresentation: String(contentsOfFile: publicKeyFile, encoding: .utf8)) }
        }
    }

    /// A started peer, its URL, and the options of an `apns` channel pointed at it. Every adapter it opens
    /// is shut down when the test ends, however it ends (each holds an HTTP/2 client of its own).
    final class Setup: Sendable {
        let peer: CloudPeer
        let keys: Keys
        let dir: String
        private let opened = Mutex<[any ChannelAdapter]>([])

        init(peer: CloudPeer, keys: Keys, dir: String) {
            self.peer = peer
            self.keys = keys
            self.dir = dir
        }
        var url: String { "https://127.0.0.1:\(peer.port)" }
        var options: Value {
            [
                "key_id": .string(APNsPeer.keyID), "team_id": .string(APNsPeer.teamID), "topic": .string(APNsPeer.topic),
                "base_url": .string(url), "ca_file": .string(keys.certificates.caFile), "allow_private": true, "timeout": "2m",
                "auth_key_file": .string(dir + "/AuthKey.p8"),
            ]
        }

        /// The channel built through the registry, as `channels.yaml` would build it.
        func channel(_ extra: Value = [:], logs: LogCapture? = nil) async throws -> ConfiguredChannel {
            let all = options.merging(extra)
            var context = ChannelContext(stateDirectory: dir, configurationDirectory: dir)
            if let logs { context.logger = logs.logger }
            let channel = try await buildChannel(type: "apns", options: all, context: context)
            opened.withLock { $0.append(channel.adapter) }
            return channel
        }

        /// The adapter on a clock of the test's own.
        func adapter(clock: @escaping @Sendable () -> Date) throws -> APNsAdapter {
            let options = ChannelOptions(channel: "push", path: "channels[0]", options: self.options, context: ChannelContext(stateDirectory: dir))
            let configuration = try #require(APNsAdapter.configure(options))
            #expect(options.finish().isEmpty)
            let adapter = try APNsAdapter(name: "push", configuration: configuration, context: ChannelContext(stateDirectory: dir), clock: clock)
            opened.withLock { $0.append(adapter) }
            return adapter
        }

        func shutdown() async {
            for adapter in opened.withLock({ $0 }) { await adapter.shutdown() }
        }
    }

    static func with(_ body: (Setup) async throws -> Void) async throws {
        try await withTemporaryDirectory { dir in
            let keys = try await offThread { try Keys.make(in: dir) }
            let out = "\(dir)/peer.jsonl"
            try await withPythonPeer(
                "apns_peer.py",
                [
                    "--out", out, "--cert", keys.certificates.certificateFile, "--key", keys.certificates.keyFile, "--public-key", keys.publicKeyFile,
                    "--key-id", Self.keyID, "--team-id", Self.teamID, "--topic", Self.topic,
                ]
            ) { peer in
                let setup = Setup(peer: CloudPeer(port: peer.port, out: out), keys: keys, dir: dir)
                do {
                    try await body(setup)
                } catch {
                    await setup.shutdown()
                    throw error
                }
                await setup.shutdown()
            }
        }
    }
}

extension Value {
    /// This object with `other`'s members added (tests).
    func merging(_ other: Value) -> Value {
        var out = self
        for member in other.members ?? [] { out.set(member.key, to: member.value) }
        return out
    }
}
