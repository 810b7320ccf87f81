import Foundation

/// A throwaway CA and a server certificate for `localhost` / 127.0.0.1, made with the openssl CLI (for the
/// TLS peers of the channel and daemon tests: SMTP, APNs).
public struct TestCertificates: Sendable {
    public var caFile: String
    public var certificateFile: String
    public var keyFile: String

    public static func make(in dir: String) throws -> TestCertificates {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + [
            "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.pem", "-days", "2", "-subj", "/CN=journeyd test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try openssl(["req"] + ec + ["-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr", "-subj", "/CN=localhost"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
            .write(toFile: "\(dir)/server.ext", atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", "\(dir)/server.csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key", "-CAcreateserial",
            "-out", "\(dir)/server.pem", "-days", "2", "-extfile", "\(dir)/server.ext",
        ])
        return TestCertificates(caFile: "\(dir)/ca.pem", certificateFile: "\(dir)/server.pem", keyFile: "\(dir)/server.key")
    }

    /// Runs `openssl` with `arguments` (output discarded); throws when it fails.
    public static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw OpenSSLFailure(command: arguments.first ?? "") }
    }

    /// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`: a PKCS #8 PEM key as Apple hands
    /// out APNs signing keys (`AuthKey_….p8`), at `path`, and its public key at `path.pub`.
    public static func makeP256Key(at path: String) throws {
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path])
        try openssl(["pkey", "-in", path, "-pubout", "-out", path + ".pub"])
    }

    public struct OpenSSLFailure: Error, CustomStringConvertible {
        public var command: String
        public var description: String { "openssl \(command) failed" }
    }
}
