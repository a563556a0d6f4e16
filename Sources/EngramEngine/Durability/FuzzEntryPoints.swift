import EngramMetadata
import EngramIndex
import EngramWAL

/// The engine's readers of untrusted bytes, for the fuzzer
/// (`Sources/EngramFuzz`, Docs/DEVELOPMENT.md, "Fuzzing"): each reads the
/// bytes as the engine would and either accepts them or throws a typed
/// error. None may trap, whatever the bytes.
package enum EngineFuzzEntryPoints {
    /// A local store snapshot; on success, every collection is searched once.
    package static func storeSnapshot(_ bytes: [UInt8]) {
        guard let contents = try? StoreSnapshot.decode(bytes, file: "<fuzz>") else { return }
        for c in contents.collections {
            let query = [Float](repeating: 0.5, count: c.configuration.dimension)
            _ = try? c.search(query, k: 3, efSearch: 16, filter: nil)
            _ = c.ids
        }
    }

    /// A log record's payload of each type.
    package static func logPayload(_ bytes: [UInt8]) {
        guard let type = bytes.first else { return }
        let payload = Array(bytes.dropFirst())
        payload.withUnsafeBytes { raw in
            guard let decoded = try? LogPayload.decode(type: type, raw) else { return }
            var parts = [decoded]
            if case .batch(let inner) = decoded { parts = inner }
            for case .upsert(_, _, let metadata, _, _, _) in parts { _ = try? metadata.decoded(loggedAt: 1) }
        }
    }

    /// The binary metadata codec; a decoded value must encode and decode to itself.
    package static func metadataCodec(_ bytes: [UInt8]) -> Bool {
        guard let value = try? MetadataCodec.decode(bytes) else { return true }
        return (try? MetadataCodec.decode(MetadataCodec.encode(value))) == value
    }

    /// The `CHECKPOINT` file's bytes.
    package static func checkpointFile(_ bytes: [UInt8]) {
        _ = try? DataDirectory.decodeCheckpointLSN(bytes, path: "<fuzz>")
    }
}

extension EngineFuzzEntryPoints {
    /// Valid inputs to start the fuzzer from: a log payload of each type.
    package static func seedLogPayloads() -> [[UInt8]] {
        let configuration = CollectionConfiguration(name: "c", dimension: 4, metric: .cosine, ivf: IVFSettings(nlist: 2))
        let payloads: [LogPayload] = [
            .create(CollectionConfiguration(name: "c", dimension: 4)),
            .create(configuration),
            .create(CollectionConfiguration(name: "t", dimension: 4, text: TextSettings(fields: ["title", "content"], k1: 1.5, b: 0.5))),
            .upsert(collection: "c", records: [Record(id: "a", vector: [1, 2, 3, 4], metadata: ["k": "v", "n": 3]),
                                               Record(id: "b", vector: [0, 1, 0, 1])]),
            .upsert(collection: "t", records: [Record(id: "a", vector: [1, 2, 3, 4], text: ["content": "disk full: ENOSPC", "title": "errors"]),
                                               Record(id: "b", vector: [0, 1, 0, 1])]),
            .delete(collection: "c", ids: ["a", "b"]),
            .batch([.upsert(collection: "c", records: [Record(id: "a", vector: [1, 2, 3, 4])]),
                    .upsert(collection: "t", records: [Record(id: "b", vector: [0, 1, 0, 1], text: ["content": "batched"])]),
                    .delete(collection: "c", ids: ["z"])]),
        ]
        return payloads.map { [$0.type] + $0.encode() }
    }

    /// A valid `CHECKPOINT` file's bytes.
    package static func seedCheckpointFile() -> [UInt8] { DataDirectory.encodeCheckpointLSN(12345) }
}
