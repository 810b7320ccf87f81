extension RuleSnapshot {
    /// The files in the archive's binary form: their count, then each path and content, by path.
    public func encodedFiles() -> [UInt8] {
        var w = ByteWriter(capacity: 4096)
        let paths = files.keys.sorted()
        w.varint(UInt64(paths.count))
        for path in paths {
            w.string(path)
            w.string(files[path]!)
        }
        return w.bytes
    }

    /// A snapshot from ``encodedFiles()`` (its version is computed again from the files).
    public init(encodedFiles r: inout ByteReader) throws(BinaryDecodingError) {
        var files: [String: String] = [:]
        for _ in 0..<(try r.varint()) { files[try r.string()] = try r.string() }
        self.init(files: files)
    }
}
