import EngramMetadata
import Dispatch
import Logging
import Metrics

/// The async face of ``Store``, for callers on Swift concurrency: each call
/// runs the blocking operation (log writes, fsyncs, graph work) on a
/// dispatch queue of its own, so it never ties up a cooperative-pool thread,
/// and resumes the caller when it is done. Same semantics and errors as the
/// blocking methods; in an async context these overloads are chosen.
extension Store {
    private static let offloadQueue = DispatchQueue(label: "engram.store.calls", qos: .userInitiated, attributes: .concurrent)

    private static func offload<R: Sendable>(_ work: @escaping @Sendable () throws(EngineError) -> R) async throws(EngineError) -> R {
        let result: Result<R, EngineError> = await withCheckedContinuation { continuation in
            offloadQueue.async {
                do throws(EngineError) { continuation.resume(returning: .success(try work())) } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    public static func open(
        directory: String, options: StoreOptions = StoreOptions(),
        logger: Logger = Logger(label: "engram.store"), metricsFactory: (any MetricsFactory & Sendable)? = nil
    ) async throws(EngineError) -> Store {
        try await offload { () throws(EngineError) in
            try Store.open(directory: directory, options: options, logger: logger, metricsFactory: metricsFactory)
        }
    }

    public func createCollection(_ configuration: CollectionConfiguration) async throws(EngineError) {
        try await Self.offload { () throws(EngineError) in try self.createCollection(configuration) }
    }

    public func upsert(_ collection: String, _ records: [Record]) async throws(EngineError) {
        try await Self.offload { () throws(EngineError) in try self.upsert(collection, records) }
    }

    @discardableResult
    public func delete(_ collection: String, ids: [String]) async throws(EngineError) -> Int {
        try await Self.offload { () throws(EngineError) in try self.delete(collection, ids: ids) }
    }

    public func search(
        _ collection: String, vector: [Float], k: Int, efSearch: Int? = nil, filter: MetadataFilter? = nil
    ) async throws(EngineError) -> [SearchHit] {
        try await Self.offload { () throws(EngineError) in
            try self.search(collection, vector: vector, k: k, efSearch: efSearch, filter: filter)
        }
    }

    public func get(_ collection: String, id: String) async throws(EngineError) -> Record? {
        try await Self.offload { () throws(EngineError) in try self.get(collection, id: id) }
    }

    @discardableResult
    public func snapshot() async throws(EngineError) -> UInt64 {
        try await Self.offload { () throws(EngineError) in try self.snapshot() }
    }

    public func close(writingSnapshot: Bool = true) async throws(EngineError) {
        try await Self.offload { () throws(EngineError) in try self.close(writingSnapshot: writingSnapshot) }
    }
}
