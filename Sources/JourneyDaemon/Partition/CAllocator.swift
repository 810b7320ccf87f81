#if canImport(Glibc)
import Glibc
#endif

/// What journeyd asks of the C allocator (glibc's `malloc`) about memory it holds but no longer uses.
///
/// After a burst — a million new users decoded, then compacted into ``ColdArena`` chunks — glibc keeps
/// the freed heap mapped: resident memory stays at the burst's high-water mark although the state in use
/// is a fraction of it. `malloc_trim(0)` releases every free page of every arena. And the long-lived
/// large blocks (arena chunks of 1 MiB, the timer heap's and the cold index's storage) are mapped on
/// their own instead of being cut from the heap among the burst's small objects, where the holes the
/// burst leaves around them stay resident. Both are looked up at run time (not in Swift's Glibc module,
/// and other C libraries lack them; there they do nothing).
enum CAllocator {
    /// Users compacted in one round from which a trim is worth its cost (a walk over the heap, a few ms).
    static let worthwhileTrim = 10_000
    /// Blocks from this size on get their own mapping (glibc's default threshold starts at 128 KiB and
    /// moves up to 32 MiB as mapped blocks are freed, so where a block lands depended on what was freed
    /// before it: 1,000,000 waiting users took 176–216 bytes of RSS each, from run to run).
    static let mappedFrom = 1 << 20

    private typealias Trim = @convention(c) (Int) -> Int32
    private typealias Option = @convention(c) (Int32, Int32) -> Int32
    private static let trim: Trim? = symbol("malloc_trim")
    private static let option: Option? = symbol("mallopt")

    private static func symbol<F>(_ name: String) -> F? {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(symbol, to: F.self)
        #else
        return nil
        #endif
    }

    /// Releases free pages; false where the C library has no `malloc_trim`.
    @discardableResult
    static func releaseFreePages() -> Bool {
        guard let trim else { return false }
        _ = trim(0)
        return true
    }

    /// Maps blocks of ``mappedFrom`` bytes and more on their own (`mallopt(M_MMAP_THRESHOLD)`, which also
    /// fixes the trim threshold); false where the C library has no `mallopt` or refused it. Called once,
    /// when the daemon starts; an operator's `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=…` still wins.
    @discardableResult
    static func mapLargeBlocks() -> Bool {
        guard let option else { return false }
        #if canImport(Glibc)
        if let tunables = getenv("GLIBC_TUNABLES"), String(cString: tunables).contains("mmap_threshold") { return false }
        #endif
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD in <malloc.h>
        return option(mmapThreshold, Int32(mappedFrom)) == 1
    }
}
