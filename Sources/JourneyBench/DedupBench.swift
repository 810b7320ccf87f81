import Foundation
import JourneyCore

/// `--only dedup`: what the deduplication window costs per remembered message id — resident bytes and inserts
/// per second — against the obvious structure (a `Set` of keys beside an array of entries, which journeyd
/// used before) filled with the same ids in the same run.
extension Stages {
    /// The obvious structure: what ``DedupWindow`` is measured against.
    struct SetAndArrayWindow {
        var seen: Set<DedupWindow.Key> = []
        var order: [DedupWindow.Entry] = []

        mutating func insert(_ key: DedupWindow.Key, at: Timestamp) -> Bool {
            guard seen.insert(key).inserted else { return false }
            order.append(.init(key: key, at: at))
            return true
        }
    }

    func dedup(into report: inout Report) throws {
        let ids = min(max(events * 5, 1_000_000), 10_000_000)
        report.line("## dedup: remembered message ids (\(rate(Double(ids))) ids, one core)")
        report.line("")
        let keys = (0..<ids).map { DedupWindow.Key("message-\($0)", namespace: "http:web") }
        let t0 = Timestamp(milliseconds: 1_700_000_000_000)

        func stage(_ label: String, _ fill: () -> (Int, Any)) throws -> Double {
            let before = heapBytes()
            var kept: Any = ()
            var accepted = 0
            let m = try measure { (accepted, kept) = fill() }
            let bytes = Double(heapBytes() - before) / Double(ids)
            withExtendedLifetime(kept) {}
            report.line("- \(label): **\(fmt(bytes)) bytes per id**, \(rate(Double(ids) / m.cpu)) inserts/s per core (\(accepted) accepted)")
            return bytes
        }
        let reference = try stage("Set + array (reference)") {
            var window = SetAndArrayWindow()
            var accepted = 0
            for (i, key) in keys.enumerated() where window.insert(key, at: t0 + .milliseconds(Int64(i))) { accepted += 1 }
            return (accepted, window)
        }
        let compact = try stage("DedupWindow (KeyRing)") {
            var window = DedupWindow(window: .days(7), maxEntries: 10_000_000)
            var accepted = 0
            for (i, key) in keys.enumerated() where window.insert(key, at: t0 + .milliseconds(Int64(i))) { accepted += 1 }
            return (accepted, window)
        }
        report.line("- DedupWindow holds an id in **\(Int((compact / reference * 100).rounded())) %** of the reference's resident bytes")
        report.line("")
    }

    /// The process's resident bytes (`VmRSS` in /proc/self/status). Large buffers are mapped and unmapped
    /// whole by the allocator, so the difference across a stage is what the structure keeps.
    private func heapBytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }
}
