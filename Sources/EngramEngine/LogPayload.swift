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
            out.reserveCapacity(records.reduce(64) { $0 + 64 + $1.id.utf8.count + 4 * $1.vector.count })
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
        func need(_ n: Int) throws(EngineError) {
            guard n >= 0, bytes.count - at >= n else { throw fail("truncated") }
        }
        func u32() throws(EngineError) -> Int {
            try need(4)
            defer { at += 4 }
            return Int(UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) }))
        }
        func string() throws(EngineError) -> String {
            let n = try u32()
            try need(n)
            defer { at += n }
            guard let s = String(validating: bytes[at..<(at + n)], as: UTF8.self) else { throw fail("invalid UTF-8") }
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
            guard at == bytes.count else { throw fail("trailing bytes") }
            return .create(CollectionConfiguration(
                name: name, dimension: dimension, metric: metric,
                hnsw: HNSWConfiguration(m: m, efConstruction: efc, efSearch: efs, seed: seed)))
        case 2:
            let collection = try string()
            let count = try u32()
            guard count <= bytes.count else { throw fail("count \(count) exceeds the payload") }
            var records = [Record]()
            records.reserveCapacity(count)
            for _ in 0..<count {
                let id = try string()
                let d = try u32()
                guard d <= (bytes.count - at) / 4 else { throw fail("dimension \(d) exceeds the payload") }
                let vector = [Float](unsafeUninitializedCapacity: d) { out, initialized in
                    bytes.withUnsafeBytes { raw in
                        for i in 0..<d {
                            out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at + 4 * i, as: UInt32.self)))
                        }
                    }
                    initialized = d
                }
                at += 4 * d
                // Metadata runs to the next record: read it in place.
                var reader = MetadataCodec.Reader(bytes: bytes, offset: at)
                let metadata: MetadataValue
                do { metadata = try reader.value(depth: 1) } catch { throw fail("metadata: \(error)") }
                at = reader.offset
                records.append(Record(id: id, vector: vector, metadata: metadata))
            }
            guard at == bytes.count else { throw fail("trailing bytes") }
            return .upsert(collection: collection, records: records)
        case 3:
            let collection = try string()
            let count = try u32()
            guard count <= bytes.count else { throw fail("count \(count) exceeds the payload") }
            var ids = [String]()
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try string()) }
            guard at == bytes.count else { throw fail("trailing bytes") }
            return .delete(collection: collection, ids: ids)
        default:
            throw fail("unknown record type")
        }
    }
}
