import EngramEngine
import EngramMetadata
import EngramSync

/// A ``CheckpointTarget`` held in memory, applying a checkpoint by the
/// same rules as `PostgresCheckpointTarget` (one store owns it; a commit
/// must start at the target's LSN; deletes before upserts, each only over
/// an older version; a resynchronising checkpoint removes every row whose
/// id is not live), so engine tests need no server. `failing` makes the
/// next commits (or state reads) throw, for retry and backoff tests; every
/// call is written to `transcript`.
public final class InMemoryCheckpointTarget: CheckpointTarget, @unchecked Sendable {
    public struct Row: Equatable, Sendable {
        public var vector: [Float]
        public var metadata: MetadataValue
        public var lsn: UInt64
    }

    /// What a test makes the target do.
    public struct Injected: Error, Equatable, Sendable { public var call: Int }

    private struct State {
        var lsn: UInt64 = 0
        var owner: String?
        var tables: [String: [String: Row]] = [:]
        var failNextCommits = 0
        var calls = 0
        var transcript: [String] = []
    }

    private let held = Locked(State())

    public init() {}

    /// Makes the next `count` commits fail (before changing anything).
    public func failNextCommits(_ count: Int) { held.withLock { $0.failNextCommits = count } }

    /// One line per call: `state`, `commit <since>→<lsn> ok|failed`.
    public var transcript: [String] { held.withLock { $0.transcript } }

    /// The rows of `collection` (id → row).
    public func rows(_ collection: String) -> [String: Row] { held.withLock { $0.tables[collection] ?? [:] } }

    public func state() throws -> CheckpointTargetState {
        held.withLock {
            $0.transcript.append("state")
            return CheckpointTargetState(lsn: $0.lsn, owner: $0.owner)
        }
    }

    public func commit(_ checkpoint: Checkpoint) throws -> CheckpointCommitResult {
        // The rows are read before the lock (as a real target streams them), then applied at once.
        var upserts = [String: [(id: String, row: Row)]]()
        for changes in checkpoint.collections {
            let d = changes.configuration.dimension
            var vectors = [Float](repeating: 0, count: changes.ids.count * d)
            if !changes.ids.isEmpty {
                try vectors.withUnsafeMutableBufferPointer { try changes.vectors.read(0..<changes.ids.count, into: $0.baseAddress!) }
            }
            upserts[changes.configuration.name] = changes.ids.indices.map {
                (changes.ids[$0], Row(vector: Array(vectors[($0 * d)..<(($0 + 1) * d)]), metadata: changes.metadata[$0], lsn: changes.lsns[$0]))
            }
        }
        return try held.withLock { (s: inout State) throws -> CheckpointCommitResult in
            s.calls += 1
            let line = "commit \(checkpoint.since)→\(checkpoint.lsn)"
            if s.failNextCommits > 0 {
                s.failNextCommits -= 1
                s.transcript.append(line + " failed")
                throw Injected(call: s.calls)
            }
            guard s.owner == nil || s.owner == checkpoint.storeID, s.lsn == checkpoint.since else {
                s.transcript.append(line + " refused")
                throw Injected(call: s.calls)
            }
            var result = CheckpointCommitResult()
            for changes in checkpoint.collections {
                let name = changes.configuration.name
                var table = s.tables[name] ?? [:]
                for (id, lsn) in changes.deleted where (table[id]?.lsn ?? .max) < lsn { table[id] = nil }
                if let live = changes.liveIDs {
                    let keep = Set(live)
                    let before = table.count
                    table = table.filter { keep.contains($0.key) }
                    result.resynchronisedDeletes += before - table.count
                }
                for (id, row) in upserts[name] ?? [] where table[id].map({ $0.lsn < row.lsn }) ?? true { table[id] = row }
                s.tables[name] = table
            }
            s.owner = checkpoint.storeID
            s.lsn = checkpoint.lsn
            s.transcript.append(line + " ok")
            return result
        }
    }
}
