import EngramIndex
import EngramKernels

/// The engine's records in the write-ahead log: the WAL stores bytes, this
/// type gives them meaning (Docs/FORMATS.md). Little-endian.
///
/// | type | payload |
/// |---|---|
/// | 1 create collection | name, u32 dimension, u8 metric (0 l2, 1 ip, 2 cosine), u32 M, u32 efConstruction, u32 efSearch, u64 seed |
/// | 2 upsert | collection name, u32 count, then per record: id, u32 dimension, float32 values, metadata (MetadataCodec) |
/// | 3 delete | collection name, u32 count, then ids |
///
/// Strings are u32 byte length + UTF-8.
enum LogPayload: Equatable {
    case create(CollectionConfiguration)
    case upsert(collection: String, records: [Record])
    case delete(collection: String, ids: [String])

    var type: UInt8 {
        switch self {
        case .create: return 1
        case .upsert: return 2
        case .delete: return 3
        }
    }

    func encode() -> [UInt8] {
        var out = [UInt8]()
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
        func string(_ s: String) { u32(s.utf8.count); out += Array(s.utf8) }
        switch self {
        case .create(let c):
            string(c.name)
            u32(c.dimension)
            out.append(c.metric == .squaredL2 ? 0 : c.metric == .innerProduct ? 1 : 2)
            u32(c.hnsw.m)
            u32(c.hnsw.efConstruction)
            u32(c.hnsw.efSearch)
            withUnsafeBytes(of: c.hnsw.seed.littleEndian) { out.append(contentsOf: $0) }
        case .upsert(let collection, let records):
            string(collection)
            u32(records.count)
            for r in records {
                string(r.id)
                u32(r.vector.count)
                for x in r.vector { withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
                MetadataCodec.encode(r.metadata, into: &out)
            }
        case .delete(let collection, let ids):
            string(collection)
            u32(ids.count)
            for id in ids { string(id) }
        }
        return out
    }

    static func decode(type: UInt8, _ bytes: [UInt8]) throws(EngineError) -> LogPayload {
        var at = 0
        func fail(_ why: String) -> EngineError { .corrupt("log record of type \(type) at byte \(at): \(why)") }
        func take(_ n: Int) throws(EngineError) -> ArraySlice<UInt8> {
            guard n >= 0, bytes.count - at >= n else { throw fail("truncated") }
            defer { at += n }
            return bytes[at..<(at + n)]
        }
        func u32() throws(EngineError) -> Int { try take(4).reversed().reduce(0) { $0 << 8 | Int($1) } }
        func string() throws(EngineError) -> String {
            let n = try u32()
            guard let s = String(validating: try take(n), as: UTF8.self) else { throw fail("invalid UTF-8") }
            return s
        }
        switch type {
        case 1:
            let name = try string()
            let dimension = try u32()
            let code = try take(1).first!
            guard let metric: Metric = [0: .squaredL2, 1: .innerProduct, 2: .cosine][code] else { throw fail("unknown metric") }
            let m = try u32(), efc = try u32(), efs = try u32()
            let seed = try take(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard at == bytes.count else { throw fail("trailing bytes") }
            return .create(CollectionConfiguration(
                name: name, dimension: dimension, metric: metric,
                hnsw: HNSWConfiguration(m: m, efConstruction: efc, efSearch: efs, seed: seed)))
        case 2:
            let collection = try string()
            let count = try u32()
            guard count <= bytes.count else { throw fail("count \(count) exceeds the payload") }
            var records = [Record]()
            for _ in 0..<count {
                let id = try string()
                let d = try u32()
                guard d <= (bytes.count - at) / 4 else { throw fail("dimension \(d) exceeds the payload") }
                let raw = try take(4 * d)
                var vector = [Float]()
                vector.reserveCapacity(d)
                var i = raw.startIndex
                for _ in 0..<d {
                    let bits = UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24
                    vector.append(Float(bitPattern: bits))
                    i += 4
                }
                // Metadata runs to the next record; decode it with a reader over the rest.
                var reader = MetadataCodec.Reader(bytes: Array(bytes[at...]))
                let metadata: MetadataValue
                do { metadata = try reader.value(depth: 1) } catch { throw fail("metadata: \(error)") }
                at += reader.offset
                records.append(Record(id: id, vector: vector, metadata: metadata))
            }
            guard at == bytes.count else { throw fail("trailing bytes") }
            return .upsert(collection: collection, records: records)
        case 3:
            let collection = try string()
            let count = try u32()
            guard count <= bytes.count else { throw fail("count \(count) exceeds the payload") }
            var ids = [String]()
            for _ in 0..<count { ids.append(try string()) }
            guard at == bytes.count else { throw fail("trailing bytes") }
            return .delete(collection: collection, ids: ids)
        default:
            throw fail("unknown record type")
        }
    }
}
