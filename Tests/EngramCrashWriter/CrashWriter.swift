import ArgumentParser
import EngramEngine
import EngramMemory
import EngramMemoryPostgres
import EngramPostgres

#if canImport(Glibc)
import Glibc
#endif

/// `EngramCrashWriter`: the writer the crash tests kill (a test-only
/// executable, not part of the shipped `engram`). It upserts records
/// `r<start>`, `r<start+1>`, … into the collection `crash` (dimension 8)
/// (an HNSW collection, or IVF with `--index ivf`) and prints `ack <id>` to stdout after each write is acknowledged. The
/// test kills it with SIGKILL at a random moment and checks what survived.
/// Every 25 records (`--snapshot-every`) it also writes a local snapshot (and truncates the log).
///
/// With `--database-url` it also deletes and checkpoints, so kills land in
/// whole histories: after record `r<i>` with `i % 5 == 4` it deletes
/// `r<i-2>` (`del <id>` once acknowledged), and after every 40th record
/// (`--checkpoint-every`) it checkpoints into that database (`ckpt <lsn>`).
///
/// With `--atomic` every call is one ``WriteBatch`` over two collections,
/// `crash` and `crash-mirror`: record `r<i>` goes into both, and with a
/// delete after it (`i % 5 == 4`) `r<i-2>` leaves both, in the same call
/// (`ack r<i>`, then `del r<i-2>`, once it is acknowledged).
///
/// With `--memory` it writes through the memory layer instead: call `i`
/// remembers experience `e<i>` of agent `a` with entity `p<i % 20>` and
/// fact `f<i>` (`p<i % 20>` —state→ i, single-valued, valid from i
/// seconds after the epoch) in one call, then prints `ack <i>`. With
/// `--database-url` as well, after call `i` with `i % 5 == 4` it forgets
/// experience `e<i-3>` (`forget <i-3>` once acknowledged), after call `i`
/// with `i % 7 == 6` it retracts fact `f<i-1>` (`retract <i-1>`), and every
/// `--checkpoint-every` calls it checkpoints with the memory's typed tables
/// (`ckpt <lsn>`).
///
/// With `--text` the collection has a text field `content`, and record
/// `r<i>` carries the text ``text(_:)`` (none when `i % 7 == 0`).
@main
struct CrashWriter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "EngramCrashWriter", abstract: "Write records until killed (crash tests).")

    @Option(name: .customLong("data-dir")) var dataDir: String
    @Option var start: Int = 0
    @Option var count: Int = 1_000_000
    @Option(help: "hnsw, or ivf (8 lists, trained at 200 records).") var index: Kind = .hnsw
    @Option(name: .customLong("database-url"), help: "Also delete and checkpoint into this database.") var databaseURL: String?
    @Option(name: .customLong("checkpoint-every"), help: "With --database-url: checkpoint after every this many records.") var checkpointEvery: Int = 40
    @Option(name: .customLong("snapshot-every"), help: "Write a local snapshot after every this many records.") var snapshotEvery: Int = 25
    @Flag(help: "Give the collection a text field `content` and the records texts.") var text = false
    @Flag(help: "Write each record (and a delete) into two collections in one atomic call.") var atomic = false
    @Flag(help: "Write experiences, entities and facts through the memory layer.") var memory = false

    /// The vector every writer and checker derives for record `i`.
    static func vector(_ i: Int) -> [Float] { (0..<8).map { Float((i * 31 + $0 * 7) % 97) / 97 + 0.01 } }

    /// The texts record `i` carries in a collection with text fields.
    static func text(_ i: Int) -> [String: String] {
        i % 7 == 0 ? [:] : ["content": "record \(i) of writer \(i % 3 == 0 ? "planner" : "critic") ENOSPC-\(i % 11) bucket\(i % 11)"]
    }

    /// The record whose delete follows record `i`'s upsert in a history with deletes, if any.
    static func deleted(after i: Int) -> Int? { i % 5 == 4 && i >= 2 ? i - 2 : nil }

    func validate() throws {
        guard start >= 0, count >= 0, start <= Int.max - count else { throw ValidationError("--start and --count must be non-negative") }
        guard checkpointEvery >= 1, snapshotEvery >= 1 else { throw ValidationError("--checkpoint-every and --snapshot-every must be at least 1") }
    }

    func run() throws {
        var options = StoreOptions()
        options.snapshotEveryLogBytes = 0  // snapshots at chosen moments below
        let store = try Store.open(directory: dataDir, options: options)
        if memory { return try runMemory(store) }
        try store.createCollection(CollectionConfiguration(
            name: "crash", dimension: 8, metric: .squaredL2,
            ivf: index == .ivf ? IVFSettings(nlist: 8, nprobe: 8, trainingSize: 200) : nil,
            text: text ? TextSettings(fields: ["content"]) : nil))
        let target = try databaseURL.map {
            try PostgresCheckpointTarget(pool: try PostgresPool(PostgresConfiguration(connectionString: $0), options: .init(maxConnections: 1)))
        }
        if atomic {
            try store.createCollection(CollectionConfiguration(name: "crash-mirror", dimension: 8, metric: .squaredL2))
            for i in start..<(start + count) {
                var batch = WriteBatch()
                let record = Record(id: "r\(i)", vector: Self.vector(i), metadata: ["i": .number(Double(i))])
                batch.upsert("crash", [record])
                batch.upsert("crash-mirror", [record])
                let victim = Self.deleted(after: i)
                if let victim {
                    batch.delete("crash", ids: ["r\(victim)"])
                    batch.delete("crash-mirror", ids: ["r\(victim)"])
                }
                try store.write(batch)
                printAndFlush("ack r\(i)")
                if let victim { printAndFlush("del r\(victim)") }
                if i % snapshotEvery == snapshotEvery - 1 { try store.snapshot() }
            }
            return
        }
        for i in start..<(start + count) {
            try store.upsert("crash", [Record(id: "r\(i)", vector: Self.vector(i), metadata: ["i": .number(Double(i))], text: text ? Self.text(i) : [:])])
            printAndFlush("ack r\(i)")
            if let target {
                if let victim = Self.deleted(after: i) {
                    try store.delete("crash", ids: ["r\(victim)"])
                    printAndFlush("del r\(victim)")
                }
                if i % checkpointEvery == checkpointEvery - 1 { printAndFlush("ckpt \(try store.checkpoint(to: target).lsn)") }
            }
            // Snapshots now and then, so that kills also land inside them.
            if i % snapshotEvery == snapshotEvery - 1 { try store.snapshot() }
        }
    }
}

extension CrashWriter {
    /// The experience forgotten after memory call `i` in a history with a database, if any.
    static func forgotten(after i: Int) -> Int? { i % 5 == 4 && i >= 3 ? i - 3 : nil }

    /// The fact retracted after memory call `i` in a history with a database, if any.
    static func retracted(after i: Int) -> Int? { i % 7 == 6 ? i - 1 : nil }

    func runMemory(_ store: Store) throws {
        let memory = try Memory.open(store, dimension: 8)
        let target = try databaseURL.map {
            try PostgresCheckpointTarget(pool: try PostgresPool(PostgresConfiguration(connectionString: $0), options: .init(maxConnections: 1)),
                                         projections: [MemoryTables(dimension: 8)])
        }
        try memory.declareSingleValued(tenant: "t", predicate: "state")
        try memory.upsert(Agent(tenant: "t", id: "a", name: "Writer"))
        for i in start..<(start + count) {
            let p = "p\(i % 20)"
            let experience = Experience(tenant: "t", id: "e\(i)", agent: "a", kind: "observation", content: "event \(i) about \(p)",
                                        embedding: Self.vector(i), occurredAt: MemoryTime(seconds: Double(i)))
            let entity = Entity(tenant: "t", id: p, type: "thing", name: "Thing \(i % 20)", embedding: Self.vector(1000 + i % 20))
            var fact = Fact(tenant: "t", id: "f\(i)", subject: p, predicate: "state", object: .value(.number(Double(i))),
                            text: "\(p) is in state \(i)", embedding: Self.vector(i), validFrom: MemoryTime(seconds: Double(i)))
            fact.sources = ["e\(i)"]
            try memory.remember([experience], entities: [entity], facts: [fact])
            printAndFlush("ack \(i)")
            if let target {
                if let victim = Self.forgotten(after: i), try memory.forgetExperience(tenant: "t", id: "e\(victim)") {
                    printAndFlush("forget \(victim)")
                }
                // Not there when a kill cut the call that would have written it short (it was never acknowledged).
                if let victim = Self.retracted(after: i), try memory.fact(tenant: "t", id: "f\(victim)") != nil {
                    _ = try memory.retract(tenant: "t", fact: "f\(victim)")
                    printAndFlush("retract \(victim)")
                }
                if i % checkpointEvery == checkpointEvery - 1 { printAndFlush("ckpt \(try store.checkpoint(to: target).lsn)") }
            }
            if i % snapshotEvery == snapshotEvery - 1 { try store.snapshot() }
        }
    }

    enum Kind: String, ExpressibleByArgument {
        case hnsw
        case ivf
    }
}

/// Writes one line to standard output and flushes it at once (the parent reads acknowledgements as they come).
func printAndFlush(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(1, bytes.baseAddress, bytes.count) }
}
