import Foundation
import JourneyCore
import Synchronization

/// Time-zone abbreviations for `%Z` (`CST`, `EDT`, `CEST`), read from the system's tz database, because
/// Foundation on Linux only answers `GMT+8`.
///
/// Each zone's TZif file is read once: for every UTC offset the zone has used, the abbreviation of its
/// latest use. A zone without a file, or an offset it never had, gets the numeric form tzdata uses itself
/// (`+08`, `+0530`); UTC is `UTC`.
enum ZoneNames {
    private static let cache = Mutex<[String: [Int64: String]]>([:])
    static let directory = "/usr/share/zoneinfo"

    static func abbreviation(_ zone: Zone, offsetSeconds: Int64) -> String {
        let table: [Int64: String]
        if let cached = cache.withLock({ $0[zone.identifier] }) {
            table = cached
        } else {
            table = read(zone.identifier)
            cache.withLock { $0[zone.identifier] = table }
        }
        if let name = table[offsetSeconds] { return name }
        if offsetSeconds == 0 { return "UTC" }
        let sign = offsetSeconds < 0 ? "-" : "+"
        let hours = abs(offsetSeconds) / 3600
        let minutes = abs(offsetSeconds) / 60 % 60
        let hh = hours < 10 ? "0\(hours)" : "\(hours)"
        return minutes == 0 ? "\(sign)\(hh)" : "\(sign)\(hh)\(minutes < 10 ? "0" : "")\(minutes)"
    }

    /// Offset → abbreviation from a TZif file (RFC 8536), version 1 data block.
    static func read(_ identifier: String) -> [Int64: String] {
        guard !identifier.contains(".."),
            let data = FileManager.default.contents(atPath: directory + "/" + identifier), data.count >= 44
        else { return [:] }
        let bytes = [UInt8](data)
        guard bytes.starts(with: Array("TZif".utf8)) else { return [:] }
        func count(_ at: Int) -> Int {
            Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        // Header counts at 20…43: isutcnt, isstdcnt, leapcnt (unused here), timecnt, typecnt, charcnt.
        let timecnt = count(32)
        let typecnt = count(36)
        let charcnt = count(40)
        let transitions = 44
        let indices = transitions + timecnt * 4
        let types = indices + timecnt
        let chars = types + typecnt * 6
        guard typecnt > 0, chars + charcnt <= bytes.count else { return [:] }
        func type(_ k: Int) -> (offset: Int64, name: String) {
            let at = types + k * 6
            let offset = Int64(Int32(bitPattern: UInt32(count(at))))
            var end = chars + Int(bytes[at + 5])
            let start = end
            while end < chars + charcnt, bytes[end] != 0 { end += 1 }
            return (offset, String(decoding: bytes[start..<end], as: UTF8.self))
        }
        var table: [Int64: String] = [:]
        // Types in order of use, so a later use of an offset overrides an earlier name.
        for k in 0..<typecnt where timecnt == 0 {
            let t = type(k)
            table[t.offset] = t.name
        }
        for i in 0..<timecnt {
            let k = Int(bytes[indices + i])
            guard k < typecnt else { continue }
            let t = type(k)
            table[t.offset] = t.name
        }
        return table
    }
}
