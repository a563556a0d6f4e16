import EngramIndex
import EngramMetadata

/// The validation gate: a batch is checked whole and its vectors prepared
/// (validated, normalised under cosine) before anything is logged, and a
/// logged batch's rows are checked again on replay (a row that fails then is
/// corruption of the log).
extension Collection {
    /// Checks a batch without applying anything; returns its vectors
    /// prepared (validated, normalised under cosine), row after row.
    @discardableResult
    func validate(_ records: [Record]) throws(EngineError) -> [Float] {
        var seen = Set<RecordKey>(minimumCapacity: records.count)
        let d = configuration.dimension
        var prepared = [Float](repeating: 0, count: records.count * d)
        try prepared.withUnsafeMutableBufferPointer { (out) throws(EngineError) in
            for (i, r) in records.enumerated() {
                guard !r.id.isEmpty, r.id.utf8.count <= Record.maxIDBytes else {
                    throw .invalidArgument("record \(i): an id must be 1 to \(Record.maxIDBytes) UTF-8 bytes")
                }
                if let why = TextRules.problem(r.id, "an id") { throw .invalidArgument("record \(i): \(why)") }
                guard seen.insert(RecordKey(r.id)).inserted else { throw .invalidArgument("record \(i): id '\(r.id)' appears twice in the batch") }
                if let why = r.metadata.problem { throw .invalidArgument("record \(i): its metadata \(why)") }
                guard d > 0, let base = out.baseAddress else {
                    // A collection without vectors: a record carries none.
                    guard r.vector.isEmpty else { throw .invalidVector(record: i, .dimensionMismatch(expected: 0, actual: r.vector.count)) }
                    continue
                }
                do throws(IndexError) {
                    try r.vector.withUnsafeBufferPointer { (v) throws(IndexError) in
                        try format.prepare(v, into: base + i * d, row: i)
                    }
                } catch {
                    throw .invalidVector(record: i, error)
                }
                if configuration.storedPrecision != .float32 {
                    for j in 0..<d {
                        if let why = configuration.storedPrecision.problem(out[i * d + j]) {
                            throw .invalidArgument("record \(i), dimension \(j): \(why)")
                        }
                    }
                }
            }
        }
        return prepared
    }

    /// Validates and prepares a logged batch's rows (replay) straight into
    /// staging blocks that `writer` hands out, in order; returns how many
    /// rows went into each block. A row that fails is corruption of the log.
    func prepareLogged(
        _ rows: [UnsafeRawBufferPointer], dimension: Int, into writer: inout ReplayBlockWriter
    ) throws(EngineError) -> [(block: StagingBuffer.Block, rows: Int)] {
        let d = configuration.dimension
        guard rows.isEmpty || dimension == d else {
            throw .corrupt("a logged batch of dimension \(dimension) for collection '\(configuration.name)' of dimension \(d)")
        }
        var placed = [(block: StagingBuffer.Block, rows: Int)]()
        for (i, row) in rows.enumerated() {
            let (block, target) = writer.nextRow()
            if d == 0 {
                if let last = placed.last, last.block === block { placed[placed.count - 1].rows += 1 } else { placed.append((block, 1)) }
                continue
            }
            #if _endian(little)
            UnsafeMutableRawPointer(target).copyMemory(from: row.baseAddress!, byteCount: 4 * d)
            #else
            for j in 0..<d { target[j] = Float(bitPattern: UInt32(littleEndian: row.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self))) }
            #endif
            do throws(IndexError) { try format.prepareInPlace(target, row: i) } catch {
                throw .corrupt("a logged vector of collection '\(configuration.name)' fails validation: \(error)")
            }
            if let last = placed.last, last.block === block {
                placed[placed.count - 1].rows += 1
            } else {
                placed.append((block, 1))
            }
        }
        return placed
    }
}
