import EngramMetadata
import EngramIndex
import EngramKernels

/// The engine's records in the write-ahead log: the WAL stores bytes, this
/// type gives them meaning (Docs/FORMATS.md). Little-endian.
///
/// | type | payload |
/// |---|---|
/// | 1 create collection | name, u32 dimension, u8 metric (0 l2, 1 ip, 2 cosine), u32 M, u32 efConstruction, u32 efSearch, u64 seed; then optional trailers in order: u8 1 + IVF settings, u8 2 + u8 1 (stored at half precision), u8 3 + text fields (u32 count, names, f64 k1, f64 b) |
/// | 2 upsert | collection name, u32 count, then per record: id, u32 dimension, float32 values, metadata (MetadataCodec) |
/// | 3 delete | collection name, u32 count, then ids |
/// | 4 upsert with texts | as type 2, and after each record's metadata: u32 text count, then per text (in field-name order) the field name and the text |
/// | 5 batch (``WriteBatch``) | u32 part count, then per part: u8 type (2, 3 or 4), u32 length, that type's payload: all applied under this record's LSN |
///
/// Strings are u32 byte length + UTF-8. A batch with no text is written as
/// type 2, so a collection without text fields logs exactly what it did
/// before text fields existed.
enum LogPayload: Equatable {
    case create(CollectionConfiguration)
    case upsert(collection: String, records: [Record])
    case delete(collection: String, ids: [String])
    /// Upserts and deletes of several collections, one record (each part an `.upsert` or a `.delete`).
    case batch([LogPayload])

    var type: UInt8 {
        switch self {
        case .create: return 1
        case .upsert(_, let records): return records.contains { !$0.text.isEmpty } ? 4 : 2
        case .delete: return 3
        case .batch: return 5
        }
    }

    func encode() -> [UInt8] {
        var out = [UInt8]()
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
        func string(_ s: String) { u32(s.utf8.count); out += s.utf8 }
        switch self {
        case .create(let c):
            string(c.name)
            u32(c.dimension)
            out.append(c.metric == .squaredL2 ? 0 : c.metric == .innerProduct ? 1 : 2)
            u32(c.hnsw.m)
            u32(c.hnsw.efConstruction)
            u32(c.hnsw.efSearch)
            withUnsafeBytes(of: c.hnsw.seed.littleEndian) { out.append(contentsOf: $0) }
            if let ivf = c.ivf {
                // The IVF trailer: kind 1, nlist (0: 4·√n), nprobe, training size (0: the default).
                out.append(1)
                u32(ivf.nlist ?? 0)
                u32(ivf.nprobe)
                u32(ivf.trainingSize ?? 0)
            }
            if c.storedPrecision == .float16 {
                // The precision trailer: kind 2, u8 1 (float16). Absent: float32.
                out.append(2)
                out.append(1)
            }
            if let text = c.text {
                // The text trailer: kind 3, the field names, BM25's k1 and b.
                out.append(3)
                u32(text.fields.count)
                for field in text.fields { string(field) }
                withUnsafeBytes(of: text.k1.bitPattern.littleEndian) { out.append(contentsOf: $0) }
                withUnsafeBytes(of: text.b.bitPattern.littleEndian) { out.append(contentsOf: $0) }
            }
        case .upsert(let collection, let records):
            let withTexts = type == 4
            out.reserveCapacity(records.reduce(64) { $0 + 64 + $1.id.utf8.count + 4 * $1.vector.count + $1.text.values.reduce(0) { $0 + 32 + $1.utf8.count } })
            string(collection)
            u32(records.count)
            for r in records {
                string(r.id)
                u32(r.vector.count)
                #if _endian(little)
                r.vector.withUnsafeBytes { out.append(contentsOf: $0) }
                #else
                for x in r.vector { withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
                #endif
                MetadataCodec.encode(r.metadata, into: &out)
                if withTexts {
                    u32(r.text.count)
                    for (field, text) in r.text.sorted(by: { $0.key < $1.key }) {
                        string(field)
                        string(text)
                    }
                }
            }
        case .delete(let collection, let ids):
            string(collection)
            u32(ids.count)
            for id in ids { string(id) }
        case .batch(let parts):
            u32(parts.count)
            for part in parts {
                let bytes = part.encode()
                out.append(part.type)
                u32(bytes.count)
                out += bytes
            }
        }
        return out
    }

    /// A logged record as replay reads it: an upsert's rows stay in the
    /// payload (borrowed: valid only while the payload is) instead of
    /// becoming one array per record.
    enum Decoded {
        case create(CollectionConfiguration)
        /// `rows[i]`: record i's `dimension` little-endian float32s, unaligned, in the payload;
        /// `texts[i]`: record i's texts (`texts` is empty for a type-2 record, which carries none).
        case upsert(collection: String, ids: [String], metadata: EncodedMetadata, dimension: Int, rows: [UnsafeRawBufferPointer],
                    texts: [[String: String]])
        case delete(collection: String, ids: [String])
        /// A batch's parts, each an `.upsert` or a `.delete`, in order.
        case batch([Decoded])
    }

    /// The metadata of a logged batch, still encoded (``MetadataCodec``):
    /// replay copies the bytes out of the payload and decodes them on its
    /// applying thread, so the reading thread does not build them.
    struct EncodedMetadata: Sendable {
        /// The values back to back; value i ends at `ends[i]`.
        var bytes: [UInt8] = []
        var ends: [Int] = []

        var count: Int { ends.count }

        /// The values, decoded and checked like a live write's; a value
        /// that fails is corruption of the log record written at `lsn`.
        func decoded(loggedAt lsn: UInt64) throws(EngineError) -> [MetadataValue] {
            var out = [MetadataValue]()
            out.reserveCapacity(ends.count)
            var failure: EngineError?
            bytes.withUnsafeBytes { raw in
                var start = 0
                for (i, end) in ends.enumerated() {
                    let value: MetadataValue
                    do throws(MetadataError) {
                        value = try MetadataCodec.decode(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                    } catch {
                        failure = .corrupt("log record \(lsn): the metadata of record \(i): \(error)")
                        return
                    }
                    guard value.isStructurallyValid else {
                        failure = .corrupt("log record \(lsn): record \(i) holds invalid metadata")
                        return
                    }
                    out.append(value)
                    start = end
                }
            }
            if let failure { throw failure }
            return out
        }
    }

    /// Decodes a payload of `type`; never reads out of `bytes`. Checks the
    /// structure (lengths, UTF-8, id sizes, one dimension per batch), not the
    /// values: replay validates vectors as it applies them.
    static func decode(type: UInt8, _ bytes: UnsafeRawBufferPointer) throws(EngineError) -> Decoded {
        var at = 0
        func fail(_ why: String) -> EngineError { .corrupt("log record of type \(type) at byte \(at): \(why)") }
        func need(_ n: Int) throws(EngineError) {
            guard n >= 0, bytes.count - at >= n else { throw fail("truncated") }
        }
        func u32() throws(EngineError) -> Int {
            try need(4)
            defer { at += 4 }
            return Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
        }
        func string() throws(EngineError) -> String {
            let n = try u32()
            try need(n)
            defer { at += n }
            guard let s = String(validUTF8: UnsafeRawBufferPointer(rebasing: bytes[at..<(at + n)])) else {
                throw fail("invalid UTF-8")
            }
            return s
        }
        func f64() throws(EngineError) -> Double {
            try need(8)
            defer { at += 8 }
            return Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
        }
        func id() throws(EngineError) -> String {
            let s = try string()
            guard !s.isEmpty, s.utf8.count <= Record.maxIDBytes else { throw fail("an id of \(s.utf8.count) bytes") }
            return s
        }
        switch type {
        case 1:
            let name = try string()
            let dimension = try u32()
            try need(1)
            let code = bytes[at]
            at += 1
            guard let metric: Metric = [0: .squaredL2, 1: .innerProduct, 2: .cosine][code] else { throw fail("unknown metric") }
            let m = try u32(), efc = try u32(), efs = try u32()
            let seed = UInt64(try u32()) | UInt64(try u32()) << 32
            var ivf: IVFSettings?
            var precision = StoredPrecision.float32
            var text: TextSettings?
            var lastTrailer: UInt8 = 0
            while at < bytes.count {
                let kind = bytes[at]
                guard kind > lastTrailer else { throw fail("trailer \(kind) out of order or repeated") }
                lastTrailer = kind
                at += 1
                switch kind {
                case 1:
                    let nlist = try u32(), nprobe = try u32(), trainingSize = try u32()
                    ivf = IVFSettings(nlist: nlist == 0 ? nil : nlist, nprobe: nprobe, trainingSize: trainingSize == 0 ? nil : trainingSize)
                case 2:
                    try need(1)
                    guard bytes[at] == 1 else { throw fail("unknown stored precision \(bytes[at])") }
                    at += 1
                    precision = .float16
                case 3:
                    let count = try u32()
                    guard count <= TextSettings.maxFields else { throw fail("\(count) text fields") }
                    var fields = [String]()
                    for _ in 0..<count { fields.append(try string()) }
                    text = TextSettings(fields: fields, k1: try f64(), b: try f64())
                default:
                    throw fail("unknown trailer kind \(kind)")
                }
            }
            return .create(CollectionConfiguration(
                name: name, dimension: dimension, metric: metric,
                hnsw: HNSWConfiguration(m: m, efConstruction: efc, efSearch: efs, seed: seed), ivf: ivf, storedPrecision: precision, text: text))
        case 2, 4:
            let collection = try string()
            let count = try u32()
            guard count <= bytes.count else { throw fail("count \(count) exceeds the payload") }
            var ids = [String](), metadata = EncodedMetadata()
            ids.reserveCapacity(count)
            metadata.ends.reserveCapacity(count)
            var dimension = 0
            var rows = [UnsafeRawBufferPointer]()
            rows.reserveCapacity(count)
            var texts = [[String: String]]()
            if type == 4 { texts.reserveCapacity(count) }
            for i in 0..<count {
                ids.append(try id())
                let d = try u32()
                if i == 0 { dimension = d }
                guard d == dimension, d <= (bytes.count - at) / 4 else { throw fail("dimension \(d) in a batch of dimension \(dimension)") }
                rows.append(UnsafeRawBufferPointer(rebasing: bytes[at..<(at + 4 * d)]))
                at += 4 * d
                // Metadata runs to the next record: find its end, copy it out to decode later.
                let end: Int
                do throws(MetadataError) { end = try MetadataCodec.endOfValue(in: bytes, at: at) } catch { throw fail("metadata: \(error)") }
                metadata.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[at..<end]))
                metadata.ends.append(metadata.bytes.count)
                at = end
                if type == 4 {
                    let n = try u32()
                    guard n <= TextSettings.maxFields else { throw fail("\(n) texts in one record") }
                    var text = [String: String](minimumCapacity: n)
                    for _ in 0..<n {
                        let field = try string()
                        guard text.updateValue(try string(), forKey: field) == nil else { throw fail("text field '\(field)' repeated") }
                    }
                    texts.append(text)
                }
            }
            guard at == bytes.count else { throw fail("trailing bytes") }
            return .upsert(collection: collection, ids: ids, metadata: metadata, dimension: dimension, rows: rows, texts: texts)
        case 3:
            let collection = try string()
            let count = try u32()
            guard count <= bytes.count else { throw fail("count \(count) exceeds the payload") }
            var ids = [String]()
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try id()) }
            guard at == bytes.count else { throw fail("trailing bytes") }
            return .delete(collection: collection, ids: ids)
        case 5:
            let count = try u32()
            guard count <= bytes.count / 5 else { throw fail("\(count) parts cannot fit") }
            var parts = [Decoded]()
            parts.reserveCapacity(count)
            for _ in 0..<count {
                try need(1)
                let partType = bytes[at]
                at += 1
                guard partType == 2 || partType == 3 || partType == 4 else { throw fail("a batch part of type \(partType)") }
                let length = try u32()
                try need(length)
                parts.append(try decode(type: partType, UnsafeRawBufferPointer(rebasing: bytes[at..<(at + length)])))
                at += length
            }
            guard at == bytes.count else { throw fail("trailing bytes") }
            return .batch(parts)
        default:
            throw fail("unknown record type")
        }
    }
}
