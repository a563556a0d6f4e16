import EngramChecksum
import EngramKernels
import Synchronization

/// The HNSW snapshot format, version 2 (Docs/FORMATS.md). Little-endian.
/// Version 1 is version 2 without the last section; it still loads.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `ENGRHNSW` |
/// | 8 | 4 | format version (1) |
/// | 12 | 4 | byte-order mark `0x01020304` |
/// | 16 | 4 | metric: 0 l2, 1 ip, 2 cosine |
/// | 20 | 4 | dimension d |
/// | 24 | 4 | M |
/// | 28 | 4 | efConstruction |
/// | 32 | 4 | efSearch |
/// | 36 | 4 | slot count s |
/// | 40 | 4 | entry point slot (0xFFFFFFFF: none) |
/// | 44 | 4 | top level (int32, −1: none) |
/// | 48 | 8 | level seed |
/// | 56 | 8 | insertions so far |
/// | 64 | 4·s | label of each slot |
/// | … | s | state of each slot: 0 live, 1 tombstone, 2 free |
/// | … | s | level of each slot |
/// | … | 0–3 | zero padding to a multiple of 4 |
/// | … | 4·s·d | vectors (float32) |
/// | … | 4·s·(1+2M) | layer-0 lists: count, then 2M slots |
/// | … | | for each non-free slot of level L > 0, in slot order: L lists of 1+M words |
/// | … | 8·d | version 2, codes trained (flag bit 1): the codes' ranges, d float32 minimums then d float32 steps |
/// | end−12 | 4 | version 2: flags: bit 0 walks on codes when due, bit 1 the codes are trained, bit 2 they are 7-bit (else 4) |
/// | end−8 | 4 | version 2: live vectors the codes' ranges were trained on |
/// | end−4 | 4 | CRC-32C of every byte before it |
enum HNSWSnapshotFormat {
    static let magic: [UInt8] = Array("ENGRHNSW".utf8)
    static let version: UInt32 = 2
    static let versions: ClosedRange<UInt32> = 1...2
    static let byteOrderMark: UInt32 = 0x0102_0304
    static let headerSize = 64

    static func metricCode(_ metric: Metric) -> UInt32 {
        switch metric {
        case .squaredL2: return 0
        case .innerProduct: return 1
        case .cosine: return 2
        }
    }

    static func metric(_ code: UInt32) -> Metric? {
        switch code {
        case 0: return .squaredL2
        case 1: return .innerProduct
        case 2: return .cosine
        default: return nil
        }
    }
}

/// Appends little-endian values to a byte buffer and checksums what it flushes.
struct SnapshotWriter {
    var buffer = [UInt8]()
    var crc = CRC32C()
    let sink: (UnsafeRawBufferPointer) throws -> Void

    mutating func u8(_ v: UInt8) throws { buffer.append(v); try flushIfLarge() }
    mutating func u32(_ v: UInt32) throws { withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) }; try flushIfLarge() }
    mutating func u64(_ v: UInt64) throws { withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) }; try flushIfLarge() }
    mutating func bytes(_ p: UnsafeRawBufferPointer) throws { buffer.append(contentsOf: p); try flushIfLarge() }

    mutating func flushIfLarge() throws { if buffer.count >= 1 << 20 { try flush() } }

    mutating func flush() throws {
        try buffer.withUnsafeBytes { b in
            crc.update(b)
            try sink(b)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, then writes the CRC of everything written.
    mutating func finish() throws {
        try flush()
        let value = crc.value.littleEndian
        try withUnsafeBytes(of: value) { try sink($0) }
    }
}

/// Reads little-endian values with bounds checks; every failure is a typed error with the offset.
struct SnapshotReader {
    let bytes: UnsafeRawBufferPointer
    var end: Int
    var offset = 0
    /// The format version read from the header.
    var version: UInt32 = 0

    /// The checks every index snapshot starts with, in order: the size (at
    /// least the header and the CRC), the magic, the version, the byte-order
    /// mark, then the CRC-32C of every byte before the last four. Returns a
    /// reader positioned after the byte-order mark (offset 16).
    static func checked(
        _ bytes: UnsafeRawBufferPointer, magic: [UInt8], versions expected: ClosedRange<UInt32>, headerSize: Int, kind: String
    ) throws(SnapshotError) -> SnapshotReader {
        guard bytes.count >= headerSize + 4 else {
            throw SnapshotError(kind: .truncated, offset: bytes.count, reason: "\(bytes.count) bytes, shorter than the \(headerSize + 4)-byte minimum")
        }
        guard Array(bytes[0..<8]) == magic else {
            throw SnapshotError(kind: .notASnapshot, offset: 0, reason: "bad magic: not an Engram \(kind) snapshot")
        }
        var r = SnapshotReader(bytes: bytes, end: bytes.count - 4, offset: 8)
        let version = try r.u32()
        guard expected.contains(version) else {
            let readable = expected.count == 1 ? "\(expected.lowerBound)" : "\(expected.lowerBound) to \(expected.upperBound)"
            throw SnapshotError(kind: .unsupportedVersion, offset: 8, reason: "format version \(version); this build reads \(readable)")
        }
        r.version = version
        guard try r.u32() == HNSWSnapshotFormat.byteOrderMark else {
            throw SnapshotError(kind: .notASnapshot, offset: 12, reason: "byte-order mark not 0x01020304 little-endian")
        }
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
        let actual = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 4)]))
        guard stored == actual else {
            throw SnapshotError(kind: .checksumMismatch, offset: bytes.count - 4, reason: "stored CRC-32C \(stored), computed \(actual)")
        }
        return r
    }

    mutating func need(_ n: Int) throws(SnapshotError) {
        guard n >= 0, offset + n <= end else {
            throw SnapshotError(kind: .truncated, offset: offset, reason: "needs \(n) more bytes, \(end - offset) left")
        }
    }

    mutating func u8() throws(SnapshotError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u32() throws(SnapshotError) -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    mutating func u64() throws(SnapshotError) -> UInt64 {
        try need(8)
        defer { offset += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    func corrupt(_ reason: String, at position: Int? = nil) -> SnapshotError {
        SnapshotError(kind: .corrupt, offset: position ?? offset, reason: reason)
    }
}

extension HNSWIndex {
    /// Writes the whole index (parameters, vectors, links, tombstones, entry
    /// point) in the snapshot format, in chunks of about 1 MiB, to `sink`.
    /// Holds the exclusive lock while writing, so the snapshot is consistent.
    public func writeSnapshot(to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try lock.withWriteLock { () throws in
          try withoutActuallyEscaping(sink) { sink in
            let r = registry.withLock { $0 }
            var w = SnapshotWriter(sink: sink)
            try HNSWSnapshotFormat.magic.withUnsafeBytes { try w.bytes($0) }
            try w.u32(HNSWSnapshotFormat.version)
            try w.u32(HNSWSnapshotFormat.byteOrderMark)
            try w.u32(HNSWSnapshotFormat.metricCode(metric))
            try w.u32(UInt32(dimension))
            try w.u32(UInt32(configuration.m))
            try w.u32(UInt32(configuration.efConstruction))
            try w.u32(UInt32(configuration.efSearch))
            try w.u32(UInt32(r.slotCount))
            try w.u32(r.entryPoint)
            try w.u32(UInt32(bitPattern: Int32(r.maxLevel)))
            try w.u64(configuration.seed)
            try w.u64(r.insertions)
            let s = r.slotCount
            for i in 0..<s { try w.u32(labels[i]) }
            for i in 0..<s { try w.u8(states[i].load(ordering: .relaxed)) }
            for i in 0..<s { try w.u8(levels[i]) }
            for _ in 0..<((4 - (2 * s) % 4) % 4) { try w.u8(0) }
            if codesOnly == nil {
                try w.bytes(UnsafeRawBufferPointer(start: vectors, count: s * dimension * 4))
            } else {
                // Codes only: the vectors the codes stand for (a snapshot loads as a float index; quantise it again).
                let reader = RowReader(self)
                defer { reader.release() }
                for slot in 0..<s { try w.bytes(UnsafeRawBufferPointer(start: reader.first(UInt32(slot)), count: dimension * 4)) }
            }
            for i in 0..<s {  // the count and the links, not the lock word
                let list = links(UInt32(i), 0)
                for j in 0...maxM0 { try w.u32(list[j].load(ordering: .relaxed)) }
            }
            for i in 0..<s where state(UInt32(i)) != .free && levels[i] > 0 {
                let block = upper[i]!
                for j in 0..<(Int(levels[i]) * (1 + maxM)) { try w.u32(block[j].load(ordering: .relaxed)) }
            }
            if let codes = traversal {
                for v in codes.quantizer.minimum { try w.u32(v.bitPattern) }
                for v in codes.quantizer.step { try w.u32(v.bitPattern) }
            }
            try w.u32((walksOnCodes ? 1 : 0) | (traversal == nil ? 0 : 2) | (traversal?.quantizer.bits == 7 ? 4 : 0))
            try w.u32(UInt32(truncatingIfNeeded: traversal?.trainedOn ?? 0))
            try w.finish()
          }
        }
    }

    /// The snapshot as one byte array (for small indexes and tests).
    public func snapshot() -> [UInt8] {
        var out = [UInt8]()
        // The sink only appends; it cannot throw.
        try? writeSnapshot { out.append(contentsOf: $0) }
        return out
    }

    /// Loads an index from snapshot bytes in time linear in their size,
    /// without rebuilding. Checks the checksum first, then every structural
    /// rule (sizes, links in range, levels, labels), so no input can crash it.
    /// The 4-bit codes are encoded again from the floats with the stored
    /// ranges (a version 1 snapshot, which has none, trains them when due).
    /// `walksOnCodes` overrides the snapshot's choice; `vectorMemory` is where
    /// the floats go (default: the heap). If it cannot provide them, the
    /// error is ``SnapshotError/Kind/vectorMemoryUnavailable``, the one kind
    /// that says nothing of the bytes.
    public static func load(
        snapshot bytes: UnsafeRawBufferPointer, walksOnCodes: Bool? = nil, vectorMemory: (any VectorMemory)? = nil
    ) throws(SnapshotError) -> HNSWIndex {
        var r = try SnapshotReader.checked(
            bytes, magic: HNSWSnapshotFormat.magic, versions: HNSWSnapshotFormat.versions,
            headerSize: HNSWSnapshotFormat.headerSize, kind: "HNSW")
        let version = r.version
        guard let metric = HNSWSnapshotFormat.metric(try r.u32()) else { throw r.corrupt("unknown metric code", at: 16) }
        let dimension = Int(try r.u32())
        let m = Int(try r.u32())
        let efConstruction = Int(try r.u32())
        let efSearch = Int(try r.u32())
        let slots = Int(try r.u32())
        let entry = try r.u32()
        let top = Int(Int32(bitPattern: try r.u32()))
        let seed = try r.u64()
        let insertions = try r.u64()
        let configuration = HNSWConfiguration(m: m, efConstruction: efConstruction, efSearch: efSearch, seed: seed)
        do {
            try configuration.validate()
            _ = try VectorFormat(dimension: dimension, metric: metric)
        } catch {
            throw r.corrupt("invalid parameters: \(error)", at: 20)
        }
        // The last section (version 2) is read first: whether the index walks on codes is fixed at init.
        var flags: UInt32 = 1, trainedOn = 0
        var ranges: TraversalQuantizer?
        if version >= 2 {
            var sectionStart = r.end - 8
            guard sectionStart >= r.offset else { throw SnapshotError(kind: .truncated, offset: r.end, reason: "no room for the codes section") }
            var tail = r
            tail.offset = sectionStart
            flags = try tail.u32()
            trainedOn = Int(try tail.u32())
            guard flags & ~7 == 0 else { throw r.corrupt("unknown flags \(flags)", at: sectionStart) }
            if flags & 2 != 0 {
                sectionStart -= 8 * dimension
                guard sectionStart >= r.offset else { throw SnapshotError(kind: .truncated, offset: r.end, reason: "no room for the codes' ranges") }
                tail.offset = sectionStart
                var minimum = [Float](), step = [Float]()
                for _ in 0..<dimension { minimum.append(Float(bitPattern: try tail.u32())) }
                for _ in 0..<dimension { step.append(Float(bitPattern: try tail.u32())) }
                guard minimum.allSatisfy(\.isFinite), step.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                    throw r.corrupt("the codes' ranges hold a value that is not finite, or a step that is not positive", at: sectionStart)
                }
                ranges = TraversalQuantizer(dimension: dimension, bits: flags & 4 != 0 ? 7 : 4, minimum: minimum, step: step)
            }
            r.end = sectionStart
        }
        // The sections' total size must be there before anything is allocated.
        // (dimension ≤ 4096, M ≤ 128, slots < 2³²: no overflow in Int.)
        let maxM0 = 2 * m
        let fixed = slots * 4 + slots * 2 + (4 - (2 * slots) % 4) % 4 + slots * dimension * 4 + slots * (1 + maxM0) * 4
        try r.need(fixed)
        guard entry == Self.noSlot || Int(entry) < slots, top >= -1, top <= maxLevelCap else {
            throw r.corrupt("entry point \(entry) or top level \(top) out of range", at: 40)
        }
        let index: HNSWIndex
        do throws(IndexError) {
            index = try HNSWIndex(dimension: dimension, metric: metric, configuration: configuration, capacity: Swift.max(16, slots),
                                  walksOnCodes: walksOnCodes ?? (flags & 1 != 0), vectorMemory: vectorMemory)
        } catch {
            if case .vectorMemoryUnavailable = error {
                throw SnapshotError(kind: .vectorMemoryUnavailable, offset: 0, reason: error.description)
            }
            throw r.corrupt("invalid parameters: \(error)", at: 20)
        }
        for i in 0..<slots { index.labels[i] = try r.u32() }
        var liveCount = 0, tombstones = 0
        var free = [UInt32]()
        var slotOfLabel = [VectorID: UInt32](minimumCapacity: slots)
        for i in 0..<slots {
            let at = r.offset
            guard let state = SlotState(rawValue: try r.u8()) else { throw r.corrupt("slot \(i) has an unknown state", at: at) }
            index.states[i].store(state.rawValue, ordering: .relaxed)
            switch state {
            case .live:
                liveCount += 1
                if slotOfLabel.updateValue(UInt32(i), forKey: index.labels[i]) != nil {
                    throw r.corrupt("label \(index.labels[i]) is live in two slots", at: at)
                }
            case .deleted: tombstones += 1
            case .free: free.append(UInt32(i))
            }
        }
        for i in 0..<slots {
            let at = r.offset
            let level = try r.u8()
            guard Int(level) <= maxLevelCap else { throw r.corrupt("slot \(i) has level \(level)", at: at) }
            index.levels[i] = index.states[i].load(ordering: .relaxed) == SlotState.free.rawValue ? 0 : level
        }
        for _ in 0..<((4 - (2 * slots) % 4) % 4) { _ = try r.u8() }
        let vectorBytes = slots * dimension * 4
        UnsafeMutableRawPointer(index.vectors).copyMemory(from: bytes.baseAddress! + r.offset, byteCount: vectorBytes)
        if !allFinite(index.vectors, count: slots * dimension) { throw r.corrupt("a vector holds NaN or infinity") }
        r.offset += vectorBytes
        for i in 0..<slots {
            let list = index.links(UInt32(i), 0)
            for j in 0...maxM0 { list[j].store(try r.u32(), ordering: .relaxed) }
        }
        for i in 0..<slots where index.states[i].load(ordering: .relaxed) != SlotState.free.rawValue && index.levels[i] > 0 {
            let words = Int(index.levels[i]) * (1 + m)
            let block = UnsafeMutablePointer<Atomic<UInt32>>.allocate(capacity: words)
            for j in 0..<words { (block + j).initialize(to: Atomic(0)) }
            index.upper[i] = block
            for j in 0..<words { block[j].store(try r.u32(), ordering: .relaxed) }
        }
        guard r.offset == r.end else { throw r.corrupt("\(r.end - r.offset) bytes left over after the last section") }
        index.registry.withLock { reg in
            reg.slotOfLabel = slotOfLabel
            reg.freeSlots = free.reversed()
            reg.slotCount = slots
            reg.entryPoint = entry
            reg.maxLevel = top
            reg.liveCount = liveCount
            reg.tombstoneCount = tombstones
            reg.insertions = insertions
        }
        // Structural rules (links in range, degrees, levels, entry point): the
        // invariant checker, run before the index is handed out.
        let problems = index.invariantProblems(reachability: false)
        if let first = problems.first { throw SnapshotError(kind: .corrupt, offset: HNSWSnapshotFormat.headerSize, reason: first) }
        if let ranges, index.walksOnCodes {
            index.lock.withWriteLock { index.traversal = index.encodeTraversalCodes(ranges, trainedOn: trainedOn) }
        }
        index.trainTraversalCodesIfDue()
        return index
    }

    public static func load(
        snapshot bytes: [UInt8], walksOnCodes: Bool? = nil, vectorMemory: (any VectorMemory)? = nil
    ) throws(SnapshotError) -> HNSWIndex {
        var result: Result<HNSWIndex, SnapshotError>!
        bytes.withUnsafeBytes { b in
            do throws(SnapshotError) {
                result = .success(try load(snapshot: b, walksOnCodes: walksOnCodes, vectorMemory: vectorMemory))
            } catch { result = .failure(error) }
        }
        return try result.get()
    }
}
