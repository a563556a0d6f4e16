import EngramEngine
import EngramIndex
import EngramPostgres
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The invariant across whole histories: a real child writes, deletes,
/// snapshots and checkpoints into a real PostgreSQL and is killed with
/// SIGKILL at random moments; after every kill the store reopens (sometimes
/// read-only first, or opened and closed with a snapshot first; closed with
/// or without a snapshot) and
///
/// - no acknowledged upsert is lost (unless a later delete of it may have run),
/// - no acknowledged delete is undone, and nothing is half applied,
/// - the table agrees with the engine as of the database's own checkpoint
///   (``PostgresVerify``: no missing, phantom or stale row, every vector and
///   metadata value and text compared), before and after the next checkpoint;
/// - (HNSW histories, whose records carry texts) a text search after the
///   reopen finds exactly the live records whose texts match.
///
/// `ENGRAM_KILL_TRIALS` sets the trials (the soak runs 300).
@Suite("Killed writer histories with deletes and checkpoints: the table equals the engine (real server)",
       .enabled(if: PostgresTestEnvironment.shouldRun))
struct KilledHistoryTests {
    @Test("SIGKILL in histories of upserts, deletes, snapshots and checkpoints: nothing lost, nothing undone, table = engine", arguments: ["hnsw", "ivf"])
    func killedHistories(index: String) throws {
        let seed: UInt64 = index == "hnsw" ? 131 : 132
        var rng = SeededGenerator.forTest("history.kill.\(index)", defaultSeed: seed)
        let trials = getenv("ENGRAM_KILL_TRIALS").flatMap { Int(String(cString: $0)) } ?? 30
        var tally = Tally()
        // Several short histories, each from an empty directory and database: the first checkpoints
        // of a history are where a store knows least about its database.
        var done = 0
        while done < trials {
            let length = min(trials - done, 5)
            try history(index: index, trials: length, rng: &rng, tally: &tally)
            done += length
        }
        print("[history-kill] \(index): \(trials) trials in \((trials + 4) / 5) histories (seed \(seed)), \(tally.acknowledged) acknowledged upserts, \(tally.deletes) acknowledged deletes, \(tally.childCheckpoints) checkpoints by the child; lost \(tally.lost), undone deletes \(tally.undone), half-applied \(tally.halfApplied), table-vs-engine mismatches \(tally.mismatches), pending after a checkpoint \(tally.pendingAfterCheckpoint)")
        #expect(tally.acknowledged > 0 && tally.deletes > 0)
        #expect(tally.lost == 0)
        #expect(tally.undone == 0)
        #expect(tally.halfApplied == 0)
        #expect(tally.mismatches == 0)
        #expect(tally.pendingAfterCheckpoint == 0)
    }

    struct Tally {
        var acknowledged = 0, deletes = 0, childCheckpoints = 0
        var lost = 0, undone = 0, halfApplied = 0, mismatches = 0, pendingAfterCheckpoint = 0
    }

    private func history(index: String, trials: Int, rng: inout SeededGenerator, tally: inout Tally) throws {
        let db = try IsolatedDatabase("kill_\(index)")
        defer { db.cleanup() }
        let dir = TemporaryDirectory("engram-history")
        defer { dir.remove() }
        let writerPath = ChildProcess.sibling("EngramCrashWriter")
        let target = try PostgresCheckpointTarget(pool: db.pool)
        var acknowledged = Set<Int>(), deleted = Set<Int>()
        var next = 0
        for trial in 0..<trials {
            // The HNSW histories give the collection a text field (log records of type 4), the IVF ones none (type 2).
            let withText = index == "hnsw"
            let arguments = (withText ? ["--text"] : []) + ["--data-dir", dir.path, "--start", "\(next)", "--index", index,
                             "--database-url", db.configuration.connectionString,
                             "--checkpoint-every", "\(Int.random(in: 5...60, using: &rng))", "--snapshot-every", "\(Int.random(in: 5...40, using: &rng))"]
            guard let child = ChildProcess(writerPath, arguments) else {
                Issue.record("cannot start \(writerPath)")
                return
            }
            let lines = child.readLines(for: Int.random(in: 50...400, using: &rng))
            child.kill()
            for line in lines {
                if line.hasPrefix("ack r"), let i = Int(line.dropFirst(5)) { acknowledged.insert(i) }
                if line.hasPrefix("del r"), let i = Int(line.dropFirst(5)) { deleted.insert(i) }
                if line.hasPrefix("ckpt ") { tally.childCheckpoints += 1 }
            }
            // Sometimes first a read-only open (what `engram stats` does), which must change nothing, or
            // an open and close that writes a snapshot before anything is checkpointed again.
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: try Store.open(directory: dir.path, options: .readOnly).close()
            case 1: try Store.open(directory: dir.path).close()
            default: break
            }
            let store = try Store.open(directory: dir.path)
            guard store.collectionNames.contains("crash") else {
                #expect(acknowledged.isEmpty, "trial \(trial): collection missing after acknowledged writes")
                try store.close(writingSnapshot: false)
                continue
            }
            let ids = Set(try store.ids("crash"))
            for i in acknowledged where !ids.contains("r\(i)") {
                // Absent is allowed only where a delete of it was written (acknowledged or cut short by the kill).
                let deleter = (i + 2) % 5 == 4
                if !(deleted.contains(i) || (deleter && (acknowledged.contains(i + 2) || ids.contains("r\(i + 2)")))) { tally.lost += 1 }
            }
            for i in deleted where ids.contains("r\(i)") { tally.undone += 1 }
            var highest = next - 1
            for id in ids {
                guard let i = Int(id.dropFirst()) else { tally.halfApplied += 1; continue }
                highest = max(highest, i)
                let r = try #require(try store.get("crash", id: id))
                if r.vector != crashVector(i) || r.metadata != ["i": .number(Double(i))] || r.text != (withText ? crashText(i) : [:]) {
                    tally.halfApplied += 1
                }
            }
            next = highest + 3  // past anything a cut-short write may have logged
            if withText {
                // The recovered text index holds exactly the live records' texts.
                let found = Set(try store.search("crash", HybridQuery(text: "bucket3", k: 1000, candidates: 1000)).map(\.id))
                let expected = Set(ids.filter { Int($0.dropFirst()).map { $0 % 7 != 0 && $0 % 11 == 3 } ?? false })
                if found != expected { tally.mismatches += 1 }
                #expect(found == expected, "trial \(trial): text search after recovery")
            }
            // The database as the child's checkpoints left it equals the engine as of that checkpoint…
            let before = try PostgresVerify.compare(store: store, pool: db.pool, sampleEvery: 1)
            tally.mismatches += before.differenceCount
            #expect(before.isConsistent, "trial \(trial), before: \(before.differences.prefix(3))")
            // …and, after one more checkpoint (most trials: the rest leave it to the next child), exactly the engine.
            if Int.random(in: 0..<4, using: &rng) > 0 {
                try store.checkpoint(to: target)
                let after = try PostgresVerify.compare(store: store, pool: db.pool, sampleEvery: 1)
                tally.mismatches += after.differenceCount
                #expect(after.isConsistent, "trial \(trial), after: \(after.differences.prefix(3))")
                for c in after.collections {
                    tally.pendingAfterCheckpoint += c.pendingUpserts + c.pendingDeletes
                    if c.engineRecords != c.tableRows { tally.mismatches += 1 }
                }
            }
            try store.close(writingSnapshot: Bool.random(using: &rng))
        }
        tally.acknowledged += acknowledged.count
        tally.deletes += deleted.count
    }
}

/// The texts `EngramCrashWriter --text` writes for record `i`.
private func crashText(_ i: Int) -> [String: String] {
    i % 7 == 0 ? [:] : ["content": "record \(i) of writer \(i % 3 == 0 ? "planner" : "critic") ENOSPC-\(i % 11) bucket\(i % 11)"]
}

/// The vector `EngramCrashWriter` writes for record `i`.
private func crashVector(_ i: Int) -> [Float] { (0..<8).map { Float((i * 31 + $0 * 7) % 97) / 97 + 0.01 } }
