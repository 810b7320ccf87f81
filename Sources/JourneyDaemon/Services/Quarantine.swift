import Foundation
import JourneyCore
import JourneyEvents

/// Where rejected input goes (DESIGN §3): `<state>/quarantine/<origin>.rejected.jsonl`, one JSON object
/// per rejected line with its source, line, byte offset, JSON path, reason and the raw line. Appended and
/// fsynced before the batch the lines came in is acknowledged, so nothing a producer was told about is
/// lost, and nothing is dropped silently.
actor Quarantine {
    let directory: String

    init(directory: String) { self.directory = directory }

    func keep(_ rejected: [(EventRejection, SourceLine)], origin: String) async throws {
        let name = origin.split(separator: "/").last.map(String.init) ?? origin
        let path = directory + "/" + name + ".rejected.jsonl"
        var text = ""
        for (rejection, line) in rejected {
            let record: Value = [
                "source": .string(origin), "line": .number(Double(rejection.line)), "byte": .number(Double(rejection.byteOffset)),
                "path": .string(rejection.path), "reason": .string(rejection.reason),
                "raw": .string(String(decoding: line.bytes, as: UTF8.self)),
            ]
            text += record.jsonText + "\n"
        }
        let directory = self.directory
        let bytes = Array(text.utf8)
        try await blocking("journeyd quarantine") {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw DaemonError("quarantine \(path): \(String(cString: strerror(errno)))", storage: true) }
            defer { close(fd) }
            var written = 0
            while written < bytes.count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
                guard n > 0 else { throw DaemonError("quarantine \(path): \(String(cString: strerror(errno)))", storage: true) }
                written += n
            }
            guard fsync(fd) == 0 else { throw DaemonError("quarantine \(path): fsync: \(String(cString: strerror(errno)))", storage: true) }
        }
    }
}
