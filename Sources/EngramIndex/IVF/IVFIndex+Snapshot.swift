import EngramKernels

/// The IVF snapshot format, version 1 (Docs/FORMATS.md). Little-endian.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `ENGRMIVF` |
/// | 8 | 4 | format version (1) |
/// | 12 | 4 | byte-order mark `0x01020304` |
/// | 16 | 4 | metric: 0 l2, 1 ip, 2 cosine |
/// | 20 | 4 | dimension d |
/// | 24 | 4 | nlist |
/// | 28 | 4 | encoding: 0 flat, 1 sq8 |
/// | 32 | 4 | trained: 0 or 1 |
/// | 36 | 4 | the training sample's list imbalance (float32; 0 when untrained) |
/// | 40 | 8 | live vectors n |
/// | 48 | 4·nlist·d | centroids (float32), when trained |
/// | … | 8·d | sq8 and trained: each coordinate's minimum, then its step (float32) |
/// | … | | each list in turn: u32 row count c, 4·c labels, then the rows: flat 4·c·d floats, sq8 c·d codes and 0–3 zero bytes to a multiple of 4 |
/// | end−4 | 4 | CRC-32C of every byte before it |
enum IVFSnapshotFormat {
    static let magic: [UInt8] = Array("ENGRMIVF".utf8)
    static let version: UInt32 = 1
    static let headerSize = 48
}

extension IVFIndex {
    /// Writes the whole index (parameters, centroids, quantiser, lists) in
    /// the snapshot format, in chunks of about 1 MiB, to `sink`. Holds the
    /// lock shared: searches go on, writers wait.
    public func writeSnapshot(to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try lock.withReadLock { () throws in
            try withoutActuallyEscaping(sink) { sink in
                var w = SnapshotWriter(sink: sink)
                try IVFSnapshotFormat.magic.withUnsafeBytes { try w.bytes($0) }
                try w.u32(IVFSnapshotFormat.version)
                try w.u32(HNSWSnapshotFormat.byteOrderMark)
                try w.u32(HNSWSnapshotFormat.metricCode(metric))
                try w.u32(UInt32(dimension))
                try w.u32(UInt32(nlist))
                try w.u32(encoding == .flat ? 0 : 1)
                try w.u32(centroids.isEmpty ? 0 : 1)
                try w.u32(Float(trainingImbalance).bitPattern)
                try w.u64(UInt64(location.count))
                try centroids.withUnsafeBytes { try w.bytes($0) }
                if let quantizer {
                    try quantizer.minimum.withUnsafeBytes { try w.bytes($0) }
                    try quantizer.step.withUnsafeBytes { try w.bytes($0) }
                }
                for list in lists {
                    try w.u32(UInt32(list.labels.count))
                    try list.labels.withUnsafeBytes { try w.bytes($0) }
                    switch encoding {
                    case .flat: try list.vectors.withUnsafeBytes { try w.bytes($0) }
                    case .sq8:
                        try list.codes.withUnsafeBytes { try w.bytes($0) }
                        for _ in 0..<((4 - list.codes.count % 4) % 4) { try w.u8(0) }
                    }
                }
                try w.finish()
            }
        }
    }

    /// The snapshot as one byte array (for small indexes and tests).
    public func snapshot() -> [UInt8] {
        var out = [UInt8]()
        try? writeSnapshot { out.append(contentsOf: $0) }  // the sink only appends
        return out
    }

    /// Loads an index from snapshot bytes in time linear in their size. Checks
    /// the checksum first, then every structural rule (parameters, sizes before
    /// allocating, finite floats, unique labels, the count), so no input can
    /// crash it; each failure is a ``SnapshotError`` naming the byte offset.
    public static func load(snapshot bytes: UnsafeRawBufferPointer) throws(SnapshotError) -> IVFIndex {
        var r = try SnapshotReader.checked(
            bytes, magic: IVFSnapshotFormat.magic, versions: IVFSnapshotFormat.version...IVFSnapshotFormat.version,
            headerSize: IVFSnapshotFormat.headerSize, kind: "IVF")
        guard let metric = HNSWSnapshotFormat.metric(try r.u32()) else { throw r.corrupt("unknown metric code", at: 16) }
        let d = Int(try r.u32()), nlist = Int(try r.u32())
        let encodingCode = try r.u32(), trained = try r.u32()
        let imbalance = Float(bitPattern: try r.u32())
        let total = try r.u64()
        guard encodingCode <= 1 else { throw r.corrupt("unknown encoding \(encodingCode)", at: 28) }
        guard trained <= 1 else { throw r.corrupt("trained flag \(trained)", at: 32) }
        let encoding: Encoding = encodingCode == 0 ? .flat : .sq8
        // The lists' sizes (untrained) or the centroids (trained) must be there before anything is
        // allocated for nlist lists of dimension d.
        let (centroidFloats, overflow) = nlist.multipliedReportingOverflow(by: d)
        guard !overflow, trained == 0 || centroidFloats <= (r.end - r.offset) / 4 else {
            throw r.corrupt("\(nlist) lists of dimension \(d) do not fit in \(r.end - r.offset) bytes", at: 20)
        }
        try r.need(trained == 1 ? 4 * centroidFloats : 4 * nlist)
        let index: IVFIndex
        do { index = try IVFIndex(dimension: d, metric: metric, nlist: nlist, encoding: encoding) } catch {
            throw r.corrupt("bad parameters: \(error)", at: 20)
        }
        guard trained == 1 else {
            guard total == 0 else { throw r.corrupt("an untrained index holding \(total) vectors", at: 40) }
            for _ in 0..<nlist where try r.u32() != 0 { throw r.corrupt("an untrained index with a non-empty list") }
            guard r.offset == r.end else { throw r.corrupt("\(r.end - r.offset) bytes left over") }
            return index
        }
        guard imbalance.isFinite, imbalance >= 0 else { throw r.corrupt("training imbalance \(imbalance)", at: 36) }
        index.trainingImbalance = Double(imbalance)
        index.centroids = try r.floats(nlist * d, what: "centroids")
        guard index.centroids.allSatisfy(\.isFinite) else { throw r.corrupt("a centroid that is not finite") }
        if encoding == .sq8 {
            let minimum = try r.floats(d, what: "quantiser minimums"), step = try r.floats(d, what: "quantiser steps")
            guard minimum.allSatisfy(\.isFinite), step.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw r.corrupt("a quantiser minimum that is not finite, or a step that is not finite and > 0")
            }
            index.quantizer = ScalarQuantizer(dimension: d, minimum: minimum, step: step)
        }
        var seen = 0
        for l in 0..<nlist {
            let count = Int(try r.u32())
            let rowBytes = encoding == .flat ? 4 * d : d
            try r.need(count * (4 + rowBytes))  // before allocating anything
            let list = index.lists[l]
            list.labels = (0..<count).map { i in UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: r.offset + 4 * i, as: UInt32.self)) }
            r.offset += 4 * count
            for (row, label) in list.labels.enumerated() {
                guard index.location.updateValue((Int32(l), Int32(row)), forKey: label) == nil else { throw r.corrupt("label \(label) appears twice") }
            }
            switch encoding {
            case .flat:
                list.vectors = try r.floats(count * d, what: "list \(l) rows")
            case .sq8:
                list.codes = Array(bytes[r.offset..<(r.offset + count * d)])
                r.offset += count * d
                try r.need((4 - (count * d) % 4) % 4)
                r.offset += (4 - (count * d) % 4) % 4
                if metric == .squaredL2, let quantizer = index.quantizer {
                    list.squaredLengths = list.codes.withUnsafeBufferPointer { c in (0..<count).map { quantizer.squaredLength(of: c.baseAddress! + $0 * d) } }
                }
            }
            seen += count
        }
        guard seen == total else { throw r.corrupt("\(seen) vectors in the lists, \(total) in the header") }
        guard r.offset == r.end else { throw r.corrupt("\(r.end - r.offset) bytes left over") }
        return index
    }

    public static func load(snapshot bytes: [UInt8]) throws(SnapshotError) -> IVFIndex {
        var result: Result<IVFIndex, SnapshotError>!
        bytes.withUnsafeBytes { b in
            do throws(SnapshotError) { result = .success(try load(snapshot: b)) } catch { result = .failure(error) }
        }
        return try result.get()
    }
}

extension SnapshotReader {
    /// `count` finite float32 values.
    mutating func floats(_ count: Int, what: String) throws(SnapshotError) -> [Float] {
        let start = offset
        try need(count * 4)
        let values = (0..<count).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 4 * $0, as: UInt32.self))) }
        offset += count * 4
        guard values.allSatisfy(\.isFinite) else { throw corrupt("\(what): a value that is not finite", at: start) }
        return values
    }
}
