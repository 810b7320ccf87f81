/// A stack of values over caller-provided storage (normally a stack-allocated temporary buffer) that
/// spills to the heap when it grows, and hands its top elements out as one exactly-sized array.
///
/// The parsers push the members of an object (or the elements of an array) here while they read it and
/// move them into their final array at the closing bracket: one allocation per container, no regrowth.
/// The owner must call ``release()`` exactly once, also on error paths.
struct ScratchStack<Element> {
    private(set) var base: UnsafeMutablePointer<Element>
    private var capacity: Int
    private var ownsStorage = false
    /// Number of initialized elements, from `base`.
    var count = 0

    init(storage: UnsafeMutableBufferPointer<Element>) {
        precondition(storage.count > 0, "scratch storage must not be empty")
        base = storage.baseAddress!
        capacity = storage.count
    }

    /// A stack with no storage yet; the first push allocates.
    init() {
        base = UnsafeMutablePointer(bitPattern: MemoryLayout<Element>.alignment)!  // never dereferenced
        capacity = 0
    }

    @inline(__always)
    mutating func push(_ element: consuming Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: element)
        count += 1
    }

    /// Pushes a copy of `elements`.
    mutating func append(contentsOf elements: UnsafeBufferPointer<Element>) {
        guard let source = elements.baseAddress, elements.count > 0 else { return }
        while capacity - count < elements.count { grow() }
        (base + count).initialize(from: source, count: elements.count)
        count += elements.count
    }

    var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    @inline(never)
    private mutating func grow() {
        let newCapacity = Swift.max(capacity * 2, 64)
        let storage = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        storage.moveInitialize(from: base, count: count)
        if ownsStorage { base.deallocate() }
        base = storage
        capacity = newCapacity
        ownsStorage = true
    }

    /// Moves the elements from index `start` to the top into a new array and pops them.
    @inline(__always)
    mutating func popArray(from start: Int) -> [Element] {
        let n = count - start
        if n == 0 { return [] }
        // Not `Array(unsafeUninitializedCapacity:)`: that path is not specialized for `Element` and looks
        // up the array storage's type metadata at run time on every call (~300 instructions on Linux).
        var array = [Element]()
        array.reserveCapacity(n)
        for k in start..<count { array.append((base + k).move()) }
        count = start
        return array
    }

    /// Destroys the elements from `start` to the top.
    mutating func truncate(to start: Int) {
        guard count > start else { return }
        (base + start).deinitialize(count: count - start)
        count = start
    }

    /// Destroys everything left and frees heap storage.
    mutating func release() {
        truncate(to: 0)
        if ownsStorage {
            base.deallocate()
            ownsStorage = false
        }
    }
}
