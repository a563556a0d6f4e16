import EngramChecksum
import EngramIndex
import EngramSync

/// The index of a collection of dimension 0, whose records hold no vector
/// (metadata and texts only): it remembers which labels are indexed, so
/// the collection's placements work as for any kind, and finds nothing by
/// vector (the store refuses a vector search on such a collection first).
///
/// Snapshot (Docs/FORMATS.md, "Records-only index"): magic `ENGRNOVC`, u32
/// version 1, u32 label count, the labels (u32 each, ascending), CRC-32C of
/// every byte before it; little-endian.
final class RecordsOnlyIndex: CollectionIndex, @unchecked Sendable {
    private let labels = Locked<Set<VectorID>>([])

    static let magic: [UInt8] = Array("ENGRNOVC".utf8)

    init() {}

    var count: Int { labels.withLock { $0.count } }
    func contains(_ label: VectorID) -> Bool { labels.withLock { $0.contains(label) } }

    func insert(preparedRows rows: UnsafeBufferPointer<Float>, labels added: [VectorID], threads: Int) throws(IndexError) {
        labels.withLock { $0.formUnion(added) }
    }

    func delete(_ label: VectorID) throws(IndexError) {
        guard labels.withLock({ $0.remove(label) }) != nil else { throw .unknownID(label) }
    }

    func vector(_ label: VectorID) throws(IndexError) -> [Float] {
        guard contains(label) else { throw .unknownID(label) }
        return []
    }

    func copyVectors(_ wanted: [VectorID], toRows rows: [Int], of destination: UnsafeMutablePointer<Float>) throws(IndexError) {
        for label in wanted where !contains(label) { throw .unknownID(label) }
    }

    func search(_ query: UnsafeBufferPointer<Float>, k: Int, searchEffort: Int?, filter: CandidateFilter?) throws(IndexError) -> [SearchResult] { [] }

    func snapshot() -> [UInt8] {
        var out = Self.magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        let sorted = labels.withLock { $0.sorted() }
        u32(1)
        u32(UInt32(truncatingIfNeeded: sorted.count))
        for label in sorted { u32(label) }
        u32(CRC32C.checksum(out))
        return out
    }

    static func load(_ bytes: UnsafeRawBufferPointer) throws(SnapshotError) -> RecordsOnlyIndex {
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        guard bytes.count >= 20 else { throw SnapshotError(kind: .truncated, offset: 0, reason: "shorter than its header") }
        guard Array(bytes[0..<8]) == magic else { throw SnapshotError(kind: .notASnapshot, offset: 0, reason: "bad magic") }
        guard u32(8) == 1 else { throw SnapshotError(kind: .unsupportedVersion, offset: 8, reason: "version \(u32(8))") }
        let count = Int(u32(12))
        guard count <= (bytes.count - 20) / 4, bytes.count == 20 + 4 * count else {
            throw SnapshotError(kind: .corrupt, offset: 12, reason: "\(count) labels in \(bytes.count) bytes")
        }
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 4)])) == u32(bytes.count - 4) else {
            throw SnapshotError(kind: .checksumMismatch, offset: bytes.count - 4, reason: "CRC-32C")
        }
        let index = RecordsOnlyIndex()
        var previous: Int64 = -1
        var all = Set<VectorID>(minimumCapacity: count)
        for i in 0..<count {
            let label = u32(16 + 4 * i)
            guard Int64(label) > previous else { throw SnapshotError(kind: .corrupt, offset: 16 + 4 * i, reason: "labels not ascending") }
            previous = Int64(label)
            all.insert(label)
        }
        index.labels.withLock { $0 = all }
        return index
    }

    var info: CollectionIndexInfo { CollectionIndexInfo(kind: "none", trained: true, lists: nil, drift: nil, retrainings: 0) }
    func compactIfNeeded(tombstoneFraction: Double) -> Int? { nil }
    func compactAll() -> Int { 0 }
    func retrainIfDrifted(threads: Int) throws(IndexError) -> Bool { false }
}
