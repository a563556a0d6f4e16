import EngramIndex
import EngramKernels
import EngramTestSupport
import Testing

/// The index snapshots' golden files (`Fixtures/golden/`): an HNSW graph and
/// an IVF index of format version 1, loaded by today's code and checked
/// value for value (`GoldenFiles`).
@Suite("Golden files: HNSW snapshots, versions 1 and 2, and IVF, version 1")
struct IndexGoldenFileTests {
    static let dimension = 8
    static let hnswCount = 300
    /// Enough to train the codes a version 2 snapshot keeps the ranges of.
    static let hnswCodesCount = 1100
    static let ivfCount = 400

    static func vectors(_ n: Int) -> [Float] { (0..<n).flatMap { GoldenFiles.vector($0, dimension: dimension) } }

    @Test("write the golden snapshots when asked and missing", .enabled(if: GoldenFiles.writing))
    func write() throws {
        if !GoldenFiles.exists("hnsw-v1.snapshot") {
            let graph = try HNSWIndex(dimension: Self.dimension, metric: .squaredL2, configuration: HNSWConfiguration(m: 8, efConstruction: 64, seed: 5))
            try graph.insert(contentsOf: Self.vectors(Self.hnswCount), labels: (0..<Self.hnswCount).map { VectorID($0) })
            try graph.delete(VectorID(7))  // a tombstone, so the deleted-node path is in the file too
            #expect(GoldenFiles.writeIfMissing("hnsw-v1.snapshot", graph.snapshot()))
        }
        if !GoldenFiles.exists("hnsw-v2.snapshot") {
            let graph = try HNSWIndex(dimension: Self.dimension, metric: .squaredL2, configuration: HNSWConfiguration(m: 8, efConstruction: 64, seed: 5))
            try graph.insert(contentsOf: Self.vectors(Self.hnswCodesCount), labels: (0..<Self.hnswCodesCount).map { VectorID($0) })
            try graph.delete(VectorID(7))
            #expect(graph.isWalkingOnCodes)
            #expect(GoldenFiles.writeIfMissing("hnsw-v2.snapshot", graph.snapshot()))
        }
        if !GoldenFiles.exists("ivf-v1.snapshot") {
            let ivf = try IVFIndex(dimension: Self.dimension, metric: .squaredL2, nlist: 6)
            try ivf.train(Self.vectors(Self.ivfCount), seed: 9)
            try ivf.add(contentsOf: Self.vectors(Self.ivfCount), labels: (0..<Self.ivfCount).map { VectorID($0) })
            #expect(GoldenFiles.writeIfMissing("ivf-v1.snapshot", ivf.snapshot()))
        }
    }

    @Test("the version 1 HNSW snapshot loads: every vector, the tombstone, the invariants, exact answers at a wide efSearch")
    func hnsw() throws {
        let bytes = try #require(GoldenFiles.read("hnsw-v1.snapshot"))
        let graph = try HNSWIndex.load(snapshot: bytes)
        #expect(graph.dimension == Self.dimension && graph.metric == .squaredL2 && graph.configuration.m == 8)
        #expect(graph.count == Self.hnswCount - 1)
        #expect(!graph.contains(VectorID(7)))
        for i in 0..<Self.hnswCount where i != 7 {
            #expect(try graph.vector(VectorID(i)) == GoldenFiles.vector(i, dimension: Self.dimension), "vector \(i)")
        }
        try graph.checkInvariants()
        // A stored vector is its own nearest neighbour (the vectors are distinct).
        for i in stride(from: 0, to: Self.hnswCount, by: 37) where i != 7 {
            let hits = try graph.search(GoldenFiles.vector(i, dimension: Self.dimension), k: 1, efSearch: 200)
            #expect(hits.first?.id == VectorID(i) && hits.first?.distance == 0, "query \(i): \(hits)")
        }
    }

    @Test("the version 2 HNSW snapshot loads walking on the 7-bit codes it was saved with: every vector, exact answers")
    func hnswWithCodes() throws {
        let bytes = try #require(GoldenFiles.read("hnsw-v2.snapshot"))
        #expect(bytes[8] == 2)
        let graph = try HNSWIndex.load(snapshot: bytes)
        #expect(graph.count == Self.hnswCodesCount - 1 && !graph.contains(VectorID(7)))
        #expect(graph.isWalkingOnCodes && graph.traversalCodeBits == 7)
        for i in 0..<Self.hnswCodesCount where i != 7 {
            #expect(try graph.vector(VectorID(i)) == GoldenFiles.vector(i, dimension: Self.dimension), "vector \(i)")
        }
        try graph.checkInvariants()
        // Saved again, the snapshot is the same bytes: the ranges, not retrained ones, are what it walks on.
        #expect(graph.snapshot() == bytes)
        for i in stride(from: 0, to: Self.hnswCodesCount, by: 37) where i != 7 {
            let hits = try graph.search(GoldenFiles.vector(i, dimension: Self.dimension), k: 1, efSearch: 200)
            #expect(hits.first?.id == VectorID(i) && hits.first?.distance == 0, "query \(i): \(hits)")
        }
    }

    @Test("the version 1 IVF snapshot loads: every vector in one list, exact answers probing every list")
    func ivf() throws {
        let bytes = try #require(GoldenFiles.read("ivf-v1.snapshot"))
        let ivf = try IVFIndex.load(snapshot: bytes)
        #expect(ivf.dimension == Self.dimension && ivf.metric == .squaredL2 && ivf.nlist == 6)
        #expect(ivf.count == Self.ivfCount)
        #expect(ivf.invariantProblems().isEmpty, "\(ivf.invariantProblems())")
        for i in 0..<Self.ivfCount {
            #expect(try ivf.vector(VectorID(i)) == GoldenFiles.vector(i, dimension: Self.dimension), "vector \(i)")
        }
        for i in stride(from: 0, to: Self.ivfCount, by: 41) {
            let hits = try ivf.search(GoldenFiles.vector(i, dimension: Self.dimension), k: 1, nprobe: 6)
            #expect(hits.first?.id == VectorID(i) && hits.first?.distance == 0, "query \(i): \(hits)")
        }
    }
}
