import EngramIndex
import EngramKernels

#if canImport(Glibc)
import Glibc
#endif

/// Vectors that are durable and acknowledged but not yet in the collection's
/// HNSW graph. Searches scan them exactly, so a write is searchable the
/// moment it is acknowledged; the background indexer moves them into the
/// graph one block at a time (Docs/ENGINE.md, "Write path").
///
/// Storage: blocks of ``blockRows`` prepared rows (validated, normalised
/// under cosine), each block one 64-byte aligned buffer, oldest first.
/// Appends go to the newest unsealed block; the indexer seals and takes the
/// oldest block, and removes it once its rows are in the graph. Replay
/// writes rows into blocks in place and labels them after
/// (``adoptWrittenRow(of:label:)``).
///
/// Invariants:
/// - Only the newest block may be unsealed, and only an unsealed block grows.
/// - A sealed block's rows and labels never change until it is removed.
/// - `count` is the number of rows in all blocks (live or not: liveness is
///   the collection's label table, which the scan consults).
/// - `rowOfLabel[label]` is the block and row holding `label`'s newest
///   staged row, for every label in a block (a point read is one lookup,
///   not a walk through every staged label).
///
/// Not synchronised: the owning ``Collection`` guards it with its lock.
final class StagingBuffer {
    static let blockRows = 1024

    final class Block: @unchecked Sendable {
        let vectors: UnsafeMutablePointer<Float>
        let dimension: Int
        let capacity = StagingBuffer.blockRows
        private(set) var labels: [VectorID] = []
        fileprivate(set) var sealed = false

        private let mappedBytes: Int

        init(dimension: Int) {
            self.dimension = dimension
            // Mapped with MAP_POPULATE: the kernel fills the pages in one call instead of one fault per
            // 4 KiB page on first write (replay fills blocks back to back, and a VM makes faults dear).
            let bytes = capacity * dimension * MemoryLayout<Float>.stride
            let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
            if let mapped, mapped != MAP_FAILED {
                mappedBytes = bytes
                vectors = mapped.bindMemory(to: Float.self, capacity: capacity * dimension)
            } else {
                mappedBytes = 0
                vectors = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64).bindMemory(to: Float.self, capacity: capacity * dimension)
            }
            labels.reserveCapacity(capacity)
        }

        deinit {
            if mappedBytes > 0 { munmap(vectors, mappedBytes) } else { vectors.deallocate() }
        }

        var count: Int { labels.count }
        var isFull: Bool { labels.count == capacity }

        func row(_ i: Int) -> UnsafeMutablePointer<Float> { vectors + i &* dimension }

        fileprivate func append(_ prepared: UnsafePointer<Float>, label: VectorID) {
            row(labels.count).update(from: prepared, count: dimension)
            labels.append(label)
        }

        /// Labels the next row, which the replay already wrote in place.
        fileprivate func labelWrittenRow(_ label: VectorID) {
            labels.append(label)
        }

        /// The rows whose labels `keep` accepts, with their labels: nil
        /// floats when it accepts every row (the block's own buffer is then
        /// the rows, no copy), else those rows packed.
        func rows(where keep: (VectorID) -> Bool) -> (floats: [Float]?, labels: [VectorID]) {
            guard !labels.allSatisfy(keep) else { return (nil, labels) }
            var floats = [Float]()
            var kept = [VectorID]()
            floats.reserveCapacity(count * dimension)
            for (i, label) in labels.enumerated() where keep(label) {
                floats.append(contentsOf: UnsafeBufferPointer(start: row(i), count: dimension))
                kept.append(label)
            }
            return (floats, kept)
        }

        /// The block's rows as one buffer (read-only once sealed).
        var allRows: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: vectors, count: count * dimension) }
    }

    let dimension: Int
    private(set) var blocks: [Block] = []
    private(set) var count = 0
    private var rowOfLabel: [VectorID: (block: Block, row: Int)] = [:]

    init(dimension: Int) { self.dimension = dimension }

    /// Copies one prepared row in under `label`.
    func append(_ prepared: UnsafePointer<Float>, label: VectorID) {
        if blocks.last.map({ $0.sealed || $0.isFull }) ?? true { blocks.append(Block(dimension: dimension)) }
        let block = blocks[blocks.count - 1]
        rowOfLabel[label] = (block, block.count)
        block.append(prepared, label: label)
        count += 1
    }

    /// The staged row of `label`, if it is in a block.
    func row(of label: VectorID) -> UnsafePointer<Float>? {
        rowOfLabel[label].map { UnsafePointer($0.block.row($0.row)) }
    }

    /// Labels the next row of `block`, a block the replay fills in place
    /// (``ReplayApplier``): rows are written into it ahead, in order, and
    /// labelled here in the same order. Adopting a new block seals the
    /// previous newest one.
    func adoptWrittenRow(of block: Block, label: VectorID) {
        if blocks.last !== block {
            blocks.last?.sealed = true
            blocks.append(block)
        }
        rowOfLabel[label] = (block, block.count)
        block.labelWrittenRow(label)
        count += 1
    }

    /// Seals the oldest block (later appends start a new one) and returns it;
    /// it stays searchable here until ``removeOldest()``.
    func sealOldest() -> Block? {
        guard let first = blocks.first, first.count > 0 else { return nil }
        first.sealed = true
        return first
    }

    func removeOldest() {
        guard let first = blocks.first else { return }
        count -= first.count
        for label in first.labels where rowOfLabel[label]?.block === first { rowOfLabel[label] = nil }
        blocks.removeFirst()
    }

    /// Offers every row whose label `allowed` admits to `heap` (``ExactScan``, the metric's kernel chosen once).
    func scan(
        metric: Metric, _ query: UnsafePointer<Float>, allowed: (VectorID) -> Bool, into heap: inout TopKHeap
    ) {
        withoutActuallyEscaping(allowed) { allowed in
            for block in blocks {
                block.labels.withUnsafeBufferPointer { labels in
                    ExactScan.scan(metric: metric, query: query, rows: UnsafePointer(block.vectors), count: labels.count,
                                   stride: dimension, labels: labels, allowed: allowed, into: &heap)
                }
            }
        }
    }
}
