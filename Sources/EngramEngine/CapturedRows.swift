#if canImport(Glibc)
import Glibc
#endif

/// The vectors a checkpoint captured, back to back, in memory mapped with
/// `MAP_POPULATE` before writers are paused: filling a million rows into
/// fresh pages cost about 0.75 s of page faults inside the pause; mapped
/// ahead, the pause only copies (Docs/POSTGRES.md, "Checkpoints").
///
/// Invariants: `count × dimension` floats are initialised; `capacity ≥
/// count`; the rows are not changed after the capture hands them over.
public final class CapturedRows: @unchecked Sendable {
    public let dimension: Int
    public let capacity: Int
    public private(set) var count = 0
    private let base: UnsafeMutablePointer<Float>
    private let mappedBytes: Int

    /// Room for `capacity` rows of `dimension` floats.
    public init(capacity: Int, dimension: Int) {
        self.capacity = Swift.max(0, capacity)
        self.dimension = dimension
        let bytes = Swift.max(1, self.capacity * dimension) * MemoryLayout<Float>.stride
        // Small captures (and the empty default of Checkpoint.Changes) come from the allocator.
        if bytes >= 1 << 16,
           let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0),
           mapped != MAP_FAILED {
            mappedBytes = bytes
            base = mapped.bindMemory(to: Float.self, capacity: bytes / 4)
        } else {
            mappedBytes = 0
            base = .allocate(capacity: bytes / 4)
        }
    }

    deinit {
        if mappedBytes > 0 { munmap(base, mappedBytes) } else { base.deallocate() }
    }

    /// Lets `fill` write the first `rows` rows; they count from then on.
    /// Refuses more rows than there is room for (callers size first).
    func fill(_ rows: Int, _ fill: (UnsafeMutablePointer<Float>) throws(EngineError) -> Void) throws(EngineError) {
        guard rows <= capacity else { throw .invalidArgument("captured rows: \(rows) rows for room for \(capacity)") }
        try fill(base)
        count = rows
    }

    /// The rows, `count × dimension` floats.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count * dimension))
    }
}
