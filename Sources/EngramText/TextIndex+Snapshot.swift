import EngramChecksum
import EngramIndex

/// A ``TextIndex`` as bytes (Docs/FORMATS.md, "Text index snapshot"):
///
/// | field | bytes |
/// |---|---|
/// | magic `ENGRTEXT` | 8 |
/// | version `1` (u32) | 4 |
/// | byte-order mark `0x01020304` (u32) | 4 |
/// | k1, b (f64 each) | 16 |
/// | term count T (u32), per term: length (u32) + UTF-8 bytes | |
/// | document count D (u32), per document: label (u32), distinct terms m (u32), m × (term index u32, frequency u32) | |
/// | CRC-32C of every byte before it (u32) | 4 |
///
/// Little-endian. Only live documents are written, and only the terms they
/// use (numbered by first use; a document's pairs in term order). A document's length is the sum of its frequencies; the posting lists
/// are rebuilt from the documents on load, in the order written.
extension TextIndex {
    static let magic: [UInt8] = Array("ENGRTEXT".utf8)
    static let version: UInt32 = 1

    public func snapshot() -> [UInt8] {
        let (documents, allNames) = exportDocuments()
        var used = [Int32: UInt32]()  // old term id → index in the file
        var names = [String]()
        for doc in documents {
            for (id, _) in doc.terms where used[id] == nil {
                used[id] = UInt32(truncatingIfNeeded: names.count)
                names.append(allNames[Int(id)])
            }
        }
        var out = Self.magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func f64(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        u32(Self.version)
        u32(0x0102_0304)
        f64(parameters.k1)
        f64(parameters.b)
        u32(UInt32(truncatingIfNeeded: names.count))
        for name in names {
            let bytes = Array(name.utf8)
            u32(UInt32(truncatingIfNeeded: bytes.count))
            out += bytes
        }
        u32(UInt32(truncatingIfNeeded: documents.count))
        for doc in documents {
            u32(doc.label)
            u32(UInt32(truncatingIfNeeded: doc.terms.count))
            // In file-index order: a loaded index numbers its terms the same way, so it writes the same bytes.
            for (index, frequency) in doc.terms.map({ (used[$0.0] ?? 0, $0.1) }).sorted(by: { $0.0 < $1.0 }) {
                u32(index)
                u32(frequency)
            }
        }
        withUnsafeBytes(of: CRC32C.checksum(out).littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    public static func load(snapshot bytes: [UInt8]) throws(SnapshotError) -> TextIndex {
        var reader = Reader(bytes: bytes)
        guard bytes.count >= 40 else { throw SnapshotError(kind: .truncated, offset: 0, reason: "shorter than the header") }
        guard Array(bytes[0..<8]) == magic else { throw SnapshotError(kind: .notASnapshot, offset: 0, reason: "bad magic") }
        reader.at = 8
        let version = try reader.u32()
        guard version == Self.version else { throw SnapshotError(kind: .unsupportedVersion, offset: 8, reason: "version \(version)") }
        guard try reader.u32() == 0x0102_0304 else { throw SnapshotError(kind: .notASnapshot, offset: 12, reason: "byte order") }
        let stored = UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self) })
        guard bytes.withUnsafeBytes({ CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 4)])) }) == stored else {
            throw SnapshotError(kind: .checksumMismatch, offset: bytes.count - 4, reason: "CRC-32C")
        }
        reader.end = bytes.count - 4
        let k1 = try reader.f64(), b = try reader.f64()
        guard k1.isFinite, k1 >= 0, b.isFinite, (0...1).contains(b) else { throw reader.corrupt("parameters k1 \(k1), b \(b)") }
        let termCount = try reader.count(minimumBytes: 4)
        var names = [String]()
        names.reserveCapacity(termCount)
        var seen = Set<String>(minimumCapacity: termCount)
        for _ in 0..<termCount {
            let length = try reader.count(minimumBytes: 1)
            guard let name = String(validating: try reader.bytes(length), as: UTF8.self) else { throw reader.corrupt("a term that is not UTF-8") }
            guard seen.insert(name).inserted else { throw reader.corrupt("term '\(name)' twice") }
            names.append(name)
        }
        let documentCount = try reader.count(minimumBytes: 8)
        let index = TextIndex(parameters: Parameters(k1: k1, b: b))
        var labels = Set<VectorID>(minimumCapacity: documentCount)
        var firstUnused = 0  // terms are numbered by first use: a new term must be the next number
        for _ in 0..<documentCount {
            let label = try reader.u32()
            guard labels.insert(label).inserted else { throw reader.corrupt("label \(label) twice") }
            let distinct = try reader.count(minimumBytes: 8)
            var terms = [String]()
            var previous = -1
            for _ in 0..<distinct {
                let term = Int(try reader.u32())
                let frequency = try reader.u32()
                guard term < names.count, term > previous, term <= firstUnused, frequency >= 1, frequency <= 1 << 20 else {
                    throw reader.corrupt("document \(label): term \(term), frequency \(frequency)")
                }
                if term == firstUnused { firstUnused += 1 }
                previous = term
                terms.append(contentsOf: repeatElement(names[term], count: Int(frequency)))
            }
            index.set(terms, for: label)
        }
        guard firstUnused == names.count else { throw reader.corrupt("\(names.count - firstUnused) terms no document uses") }
        guard reader.at == reader.end else { throw reader.corrupt("\(reader.end - reader.at) bytes after the documents") }
        return index
    }

    /// Reads fields, bounds-checked.
    private struct Reader {
        let bytes: [UInt8]
        var at = 0
        var end: Int

        init(bytes: [UInt8]) {
            self.bytes = bytes
            end = bytes.count
        }

        func corrupt(_ why: String) -> SnapshotError { SnapshotError(kind: .corrupt, offset: at, reason: why) }

        mutating func bytes(_ n: Int) throws(SnapshotError) -> ArraySlice<UInt8> {
            guard n >= 0, end - at >= n else { throw SnapshotError(kind: .truncated, offset: at, reason: "needs \(n) bytes") }
            defer { at += n }
            return bytes[at..<(at + n)]
        }

        mutating func u32() throws(SnapshotError) -> UInt32 {
            let b = try bytes(4)
            return b.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        }

        mutating func f64() throws(SnapshotError) -> Double {
            let b = try bytes(8)
            return Double(bitPattern: b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        }

        /// A count of items of at least `minimumBytes` each, checked against the bytes left before anything is sized by it.
        mutating func count(minimumBytes: Int) throws(SnapshotError) -> Int {
            let n = Int(try u32())
            guard n <= (end - at) / minimumBytes else { throw corrupt("count \(n) cannot fit in \(end - at) bytes") }
            return n
        }
    }
}
