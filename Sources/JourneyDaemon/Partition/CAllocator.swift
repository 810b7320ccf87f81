#if canImport(Glibc)
import Glibc
#endif

/// Gives the pages the C allocator holds free back to the system (glibc's `malloc_trim`).
///
/// After a burst — a million new users decoded, then compacted into ``ColdArena`` chunks — glibc keeps
/// the freed heap mapped: resident memory stays at the burst's high-water mark although the state in use
/// is a fraction of it. `malloc_trim(0)` releases every free page of every arena. It is looked up at run
/// time (it is not in Swift's Glibc module, and other C libraries lack it; there it does nothing).
enum HeapTrim {
    /// Users compacted in one round from which a trim is worth its cost (a walk over the heap, a few ms).
    static let worthwhile = 10_000

    private typealias Trim = @convention(c) (Int) -> Int32
    nonisolated(unsafe) private static let trim: Trim? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
        #else
        return nil
        #endif
    }()

    /// Releases free pages; false where the C library has no `malloc_trim`.
    @discardableResult
    static func releaseFreePages() -> Bool {
        guard let trim else { return false }
        _ = trim(0)
        return true
    }
}
