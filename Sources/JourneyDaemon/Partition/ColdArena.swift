/// Byte strings kept side by side in large chunks, for ``ColdUsers``: a million compacted users are a
/// few hundred chunks of 1 MiB instead of a million small allocations.
///
/// Why not one array per user: the allocator then interleaves the long-lived encodings with the
/// short-lived decoded states they replace, so after a burst of new users the heap stays at its high-water
/// mark — measured with 1,000,000 waiting users, 883 MB resident for 411 MB in use, and `malloc_trim`
/// gave back only 77 MB. Chunks leave the small-object heap to the short-lived allocations, which then
/// free whole pages.
///
/// Each entry is its length (a varint) and its bytes, so a place is only where it starts: 8 bytes, packed
/// into a ``ColdIndex`` slot beside a fingerprint.
///
/// A removed entry leaves a hole; when holes outweigh half of what is live, ``reclaim(moving:)`` moves
/// the live entries of the emptiest chunks into the current one and frees those chunks.
struct ColdArena {
    /// Where an entry starts: chunk and offset (below ``chunkSize``: an entry larger than a chunk has a
    /// chunk of its own and starts at 0).
    struct Place: Equatable {
        var chunk: UInt32
        var offset: UInt32
    }

    private final class Chunk {
        var bytes: [UInt8]
        /// Bytes of entries still referenced.
        var live = 0
        init(capacity: Int) { bytes = []; bytes.reserveCapacity(capacity) }
    }

    static let chunkSize = 1 << 20
    private var chunks: [Chunk?] = []
    private var freeChunks: [Int] = []
    private var current = -1
    /// Bytes referenced, and bytes of holes (removed entries not yet reclaimed).
    private(set) var liveBytes = 0
    private(set) var garbageBytes = 0

    /// Chunks allocated (each ``chunkSize`` or one entry larger than that).
    var chunkCount: Int { chunks.count - freeChunks.count }

    /// Whether holes are worth moving entries for: more than half of what is live, and at least two
    /// chunks' worth (small partitions never bother).
    var wantsReclaim: Bool { garbageBytes > 2 * Self.chunkSize && garbageBytes * 2 > liveBytes }

    /// Copies `bytes` in.
    mutating func store(_ bytes: some Collection<UInt8>) -> Place {
        var header = bytes.count
        var length = bytes.count + 1
        while header >= 0x80 {
            header >>= 7
            length += 1
        }
        let index: Int
        if length > Self.chunkSize {
            index = newChunk(capacity: length)  // its own, freed when it leaves; small entries go on in `current`
        } else {
            if current < 0 || chunks[current]!.bytes.count + length > Self.chunkSize {  // offsets stay below 2^20 (``ColdIndex``)
                current = newChunk(capacity: Self.chunkSize)
            }
            index = current
        }
        let chunk = chunks[index]!
        let offset = chunk.bytes.count
        header = bytes.count
        while header >= 0x80 {
            chunk.bytes.append(UInt8(truncatingIfNeeded: header) | 0x80)
            header >>= 7
        }
        chunk.bytes.append(UInt8(header))
        chunk.bytes.append(contentsOf: bytes)
        chunk.live += length
        liveBytes += length
        return Place(chunk: UInt32(index), offset: UInt32(offset))
    }

    /// A copy of the entry's bytes.
    func bytes(at place: Place) -> [UInt8] { withBytes(at: place) { Array($0) } }

    /// Where the entry's bytes are in its chunk, and how many bytes it takes with its length.
    private func extent(_ place: Place) -> (bytes: Range<Int>, footprint: Int) {
        let chunk = chunks[Int(place.chunk)]!
        var index = Int(place.offset)
        var length = 0
        var shift = 0
        while true {
            let byte = chunk.bytes[index]
            length |= Int(byte & 0x7F) << shift
            index += 1
            shift += 7
            if byte < 0x80 { break }
        }
        return (index..<index + length, index + length - Int(place.offset))
    }

    /// Runs `body` on the entry's bytes in place (no copy; valid only inside `body`).
    func withBytes<R, E: Error>(at place: Place, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let range = extent(place).bytes
        let result: Result<R, E> = chunks[Int(place.chunk)]!.bytes.withUnsafeBytes { raw in
            do throws(E) { return .success(try body(UnsafeRawBufferPointer(rebasing: raw[range]))) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The entry is no longer referenced; a chunk left without live entries is freed at once.
    mutating func remove(_ place: Place) {
        let index = Int(place.chunk)
        let chunk = chunks[index]!
        let length = extent(place).footprint
        chunk.live -= length
        liveBytes -= length
        if chunk.live == 0 && index != current {
            garbageBytes -= chunk.bytes.count - length
            free(index)
        } else {
            garbageBytes += length
        }
    }

    /// Moves the live entries out of chunks less than half full: `places` visits every live entry's
    /// place (and may be given a new one). Afterwards those chunks are freed.
    mutating func reclaim(moving places: (_ move: (inout Place) -> Void) -> Void) {
        let evacuating = Set(chunks.indices.filter { i in
            guard i != current, let chunk = chunks[i] else { return false }
            return chunk.live * 2 < chunk.bytes.count
        })
        guard !evacuating.isEmpty else { return }
        places { place in
            // Not the chunk entries are moved into (a freed chunk's index can come back as it).
            guard Int(place.chunk) != current, evacuating.contains(Int(place.chunk)) else { return }
            let moved = store(chunks[Int(place.chunk)]!.bytes[extent(place).bytes])
            remove(place)
            place = moved
        }
    }

    private mutating func newChunk(capacity: Int) -> Int {
        let chunk = Chunk(capacity: capacity)
        if let reused = freeChunks.popLast() {
            chunks[reused] = chunk
            return reused
        }
        chunks.append(chunk)
        return chunks.count - 1
    }

    private mutating func free(_ index: Int) {
        chunks[index] = nil
        freeChunks.append(index)
    }
}
