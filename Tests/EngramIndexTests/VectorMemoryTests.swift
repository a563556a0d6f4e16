import EngramIndex
import EngramKernels
import EngramTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Heap memory that refuses regions above `limit` bytes (as a file on a full
/// disk would), and counts what it was asked.
private final class LimitedVectorMemory: VectorMemory, @unchecked Sendable {
    let limit: Atomic<Int>
    let resizes = Atomic<Int>(0)
    let releases = Atomic<Int>(0)
    let heap = HeapVectorMemory()

    init(limit: Int) { self.limit = Atomic(limit) }

    func resize(_ old: UnsafeMutableRawPointer?, from oldBytes: Int, to newBytes: Int, keeping: Int) throws(IndexError) -> UnsafeMutableRawPointer {
        guard newBytes <= limit.load(ordering: .relaxed) else { throw .vectorMemoryUnavailable(bytes: newBytes, errno: ENOSPC) }
        resizes.add(1, ordering: .relaxed)
        return try heap.resize(old, from: oldBytes, to: newBytes, keeping: keeping)
    }

    func release(_ region: UnsafeMutableRawPointer, bytes: Int) {
        releases.add(1, ordering: .relaxed)
        heap.release(region, bytes: bytes)
    }

    var isFileBacked: Bool { true }
}

@Suite("HNSW vectors in a caller's VectorMemory")
struct VectorMemoryTests {
    @Test("a provider that cannot grow fails the insert with a typed error and changes nothing; with room, the graph is the heap's")
    func growthFailure() throws {
        var rng = SeededGenerator.forTest("hnsw.vector-memory", defaultSeed: 907)
        let d = 24, n = 3000
        let base = (0..<(n * d)).map { _ in rng.gaussian() }
        let queries = (0..<(20 * d)).map { _ in rng.gaussian() }
        let labels = (0..<n).map { VectorID($0) }
        let configuration = HNSWConfiguration(m: 8, efConstruction: 64)
        // Room for the first 2,000 rows only.
        let memory = LimitedVectorMemory(limit: 2000 * d * 4)
        let index = try HNSWIndex(dimension: d, metric: .squaredL2, configuration: configuration, capacity: 16, vectorMemory: memory)
        let heap = try HNSWIndex(dimension: d, metric: .squaredL2, configuration: configuration, capacity: 16)
        try index.insert(contentsOf: Array(base[0..<(2000 * d)]), labels: Array(labels[0..<2000]))
        try heap.insert(contentsOf: Array(base[0..<(2000 * d)]), labels: Array(labels[0..<2000]))
        #expect(index.memory.floatsFileBacked && !heap.memory.floatsFileBacked)
        #expect(index.memory.anonymous == index.memory.total - index.memory.floats)
        let before = try searchAll(index, queries, dimension: d, k: 10, ef: 64)

        #expect(throws: IndexError.vectorMemoryUnavailable(bytes: 3000 * d * 4, errno: ENOSPC)) {
            try index.insert(contentsOf: Array(base[(2000 * d)...]), labels: Array(labels[2000...]))
        }
        #expect(index.count == 2000)
        try index.checkInvariants()
        #expect(try searchAll(index, queries, dimension: d, k: 10, ef: 64) == before)

        memory.limit.store(Int.max, ordering: .relaxed)
        try index.insert(contentsOf: Array(base[(2000 * d)...]), labels: Array(labels[2000...]))
        try heap.insert(contentsOf: Array(base[(2000 * d)...]), labels: Array(labels[2000...]))
        try index.checkInvariants()
        // One thread, the same seed and order: the same graph, so the same answers, exact distances and all.
        for q in 0..<20 {
            let query = Array(queries[(q * d)..<((q + 1) * d)])
            #expect(try index.search(query, k: 10, efSearch: 64) == heap.search(query, k: 10, efSearch: 64))
        }
        for label in [VectorID(0), 1999, 2000, 2999] { #expect(try index.vector(label) == heap.vector(label)) }
    }

    @Test("a snapshot loads into the provider; one that cannot hold it gives the one kind that is not about the bytes; codes only gives the rows back")
    func snapshotAndRelease() throws {
        var rng = SeededGenerator.forTest("hnsw.vector-memory.snapshot", defaultSeed: 919)
        let d = 16, n = 1500
        let base = (0..<(n * d)).map { _ in rng.gaussian() }
        let heap = try HNSWIndex(dimension: d, metric: .cosine, configuration: HNSWConfiguration(m: 8, efConstruction: 48))
        try heap.insert(contentsOf: base, labels: (0..<n).map { VectorID($0) })
        let bytes = heap.snapshot()

        let tight = LimitedVectorMemory(limit: 100 * d * 4)
        let error = #expect(throws: SnapshotError.self) { try HNSWIndex.load(snapshot: bytes, vectorMemory: tight) }
        #expect(error?.kind == .vectorMemoryUnavailable)

        let memory = LimitedVectorMemory(limit: Int.max)
        do {
            let loaded = try HNSWIndex.load(snapshot: bytes, vectorMemory: memory)
            #expect(loaded.memory.floatsFileBacked)
            let query = Array(base[0..<d])
            #expect(try loaded.search(query, k: 5, efSearch: 32) == heap.search(query, k: 5, efSearch: 32))
            try loaded.quantize(keepingFloats: false)
            #expect(loaded.memory.floats == 0)
            #expect(memory.releases.load(ordering: .relaxed) == 0)
        }
        // The index is gone: its last region went back.
        #expect(memory.releases.load(ordering: .relaxed) == 1)
    }
}
