import NIOSSL

/// A certificate chain and its private key, as PEM files (`inputs.http.tls`): the HTTP input serves
/// HTTPS with them. Read when the server starts; a file that cannot be read stops the start with its path.
public struct TLSFiles: Sendable, Equatable {
    public var certificate: String
    public var key: String

    public init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }

    /// Why the files cannot be used: which file and why.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    func serverConfiguration() throws(Problem) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let privateKey: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw Problem(description: "inputs.http.tls.certificate \(certificate): \(error)")
        }
        do {
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw Problem(description: "inputs.http.tls.key \(key): \(error)")
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
    }

    /// Checks that both files load (at start, so a bad file is a configuration error, not a dead listener).
    public func validate() throws(Problem) {
        _ = try serverConfiguration()
    }
}
