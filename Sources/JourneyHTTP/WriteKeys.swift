import Foundation

/// The write keys the HTTP input accepts, each naming the stream its events belong to
/// (`inputs.http.sources` in journeyd.yaml). Keys are read from files — a file of their own, or a
/// systemd credential (`LoadCredential=`, a file in `$CREDENTIALS_DIRECTORY`) — never written in
/// journeyd.yaml, and never logged or told to a client.
public struct WriteKeys: Sendable {
    /// Where one stream's key comes from.
    public struct Entry: Sendable, Equatable {
        public var stream: String
        /// A file holding the key (white space around it is ignored).
        public var file: String

        public init(stream: String, file: String) {
            self.stream = stream
            self.file = file
        }
    }

    /// Why the keys cannot be read: which stream, which file, why (never the key).
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    private let streams: [String: String]
    /// `Basic base64(key:)` — the header Segment's and RudderStack's clients send — → stream, so the
    /// usual header is looked up as it is instead of decoded per request.
    private let basicHeaders: [String: String]

    /// Keys given directly (tests).
    public init(_ streams: [String: String]) {
        self.streams = streams
        basicHeaders = Dictionary(streams.map { ("Basic " + Data(($0.key + ":").utf8).base64EncodedString(), $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    /// Reads every entry's file.
    public init(reading entries: [Entry]) throws(Problem) {
        var streams: [String: String] = [:]
        for entry in entries {
            guard let data = FileManager.default.contents(atPath: entry.file) else {
                throw Problem(description: "inputs.http.sources: the key of stream \"\(entry.stream)\": cannot read \(entry.file)")
            }
            let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !key.isEmpty else {
                throw Problem(description: "inputs.http.sources: the key of stream \"\(entry.stream)\": \(entry.file) is empty")
            }
            if let other = streams[key] {
                throw Problem(description: "inputs.http.sources: streams \"\(other)\" and \"\(entry.stream)\" have the same key")
            }
            streams[key] = entry.stream
        }
        self.init(streams)
    }

    /// The stream `key` names, or nil for a key that is not ours.
    public func stream(for key: String) -> String? { streams[key] }

    /// The stream of an `Authorization` header in the form clients send (`Basic base64(key:)`), nil for
    /// any other header (which is then decoded).
    public func stream(forAuthorization header: String) -> String? { basicHeaders[header] }

    public var isEmpty: Bool { streams.isEmpty }
}
