#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A per-thread, direct-mapped cache of short strings (at most 15 UTF-8 bytes: what Swift stores inline,
/// without an allocation).
///
/// Events repeat the same short texts over and over: property keys (`sku`, `price`), categories, event
/// names. Making a `String` from bytes validates and copies them (~180 instructions); finding it here is a
/// hash of two words and one comparison. Entries hold only inline strings, so the cache owns no heap
/// memory beyond its table (16 KiB per thread that parses), which is freed when the thread ends.
enum ShortStringCache {
    struct Entry {
        /// The bytes, zero-padded, with the length in the top byte of `high`.
        var low: UInt64
        var high: UInt64
        var string: String
    }

    static let slotBits = 9
    static let slots = 1 << slotBits

    /// This thread's table (created on first use).
    @inline(__always)
    static func forCurrentThread() -> UnsafeMutablePointer<Entry> {
        if let table = pthread_getspecific(tableKey) {
            return table.assumingMemoryBound(to: Entry.self)
        }
        return makeTable()
    }

    @inline(never)
    private static func makeTable() -> UnsafeMutablePointer<Entry> {
        let table = UnsafeMutablePointer<Entry>.allocate(capacity: slots)
        // Zero words with length 0 are the key of "", so every empty slot is already correct.
        table.initialize(repeating: Entry(low: 0, high: 0, string: ""), count: slots)
        pthread_setspecific(tableKey, table)
        return table
    }

    /// The string for the `count` ≤ 15 bytes at `bytes`, which must be valid UTF-8; `readable` is how
    /// many bytes may be read from `bytes` (loads are two 8-byte words when at least 16 are readable).
    @inline(__always)
    static func string(
        _ bytes: UnsafePointer<UInt8>,
        count: Int,
        readable: Int,
        in table: UnsafeMutablePointer<Entry>
    ) -> String {
        var low: UInt64 = 0
        var high: UInt64 = 0
        if readable >= 16 {
            let raw = UnsafeRawPointer(bytes)
            low = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
            high = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            if count < 8 {
                low &= (1 &<< UInt64(count &* 8)) &- 1
                high = 0
            } else {
                high &= (1 &<< UInt64((count &- 8) &* 8)) &- 1
            }
        } else {
            for k in 0..<count {
                if k < 8 {
                    low |= UInt64(bytes[k]) &<< UInt64(k &* 8)
                } else {
                    high |= UInt64(bytes[k]) &<< UInt64((k &- 8) &* 8)
                }
            }
        }
        high |= UInt64(count) &<< 56
        let hash = (low ^ high.rotateRightBy17) &* 0x9E37_79B9_7F4A_7C15
        let entry = table + Int(truncatingIfNeeded: hash &>> UInt64(64 - slotBits))
        if entry.pointee.low == low && entry.pointee.high == high {
            return entry.pointee.string
        }
        let string = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
        entry.pointee = Entry(low: low, high: high, string: string)
        return string
    }

    fileprivate static let tableKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, destroyTable)
        precondition(status == 0, "pthread_key_create failed")
        return key
    }()
}

#if canImport(Darwin)
private func destroyTable(_ pointer: UnsafeMutableRawPointer) {
    let table = pointer.assumingMemoryBound(to: ShortStringCache.Entry.self)
    table.deinitialize(count: ShortStringCache.slots)
    table.deallocate()
}
#else
private func destroyTable(_ pointer: UnsafeMutableRawPointer?) {
    guard let table = pointer?.assumingMemoryBound(to: ShortStringCache.Entry.self) else { return }
    table.deinitialize(count: ShortStringCache.slots)
    table.deallocate()
}
#endif

extension UInt64 {
    fileprivate var rotateRightBy17: UInt64 { self &>> 17 | self &<< 47 }
}
