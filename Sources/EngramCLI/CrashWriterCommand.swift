import ArgumentParser
import EngramEngine

/// `engram crash-writer`: a writer for the crash tests. It upserts records
/// `r<start>`, `r<start+1>`, … into the collection `crash` (dimension 8)
/// (an HNSW collection, or IVF with `--index ivf`) and prints `ack <id>` to stdout after each write is acknowledged. The
/// test kills it with SIGKILL at a random moment and checks what survived.
/// Every 25 records it also writes a local snapshot (and truncates the log).
/// Hidden from help: it is a test instrument, not a user command.
struct CrashWriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash-writer", abstract: "Write records until killed (crash tests).", shouldDisplay: false)

    @Option(name: .customLong("data-dir")) var dataDir: String
    @Option var start: Int = 0
    @Option var count: Int = 1_000_000
    @Option(help: "hnsw, or ivf (8 lists, trained at 200 records).") var index: String = "hnsw"

    /// The vector every writer and checker derives for record `i`.
    static func vector(_ i: Int) -> [Float] { (0..<8).map { Float((i * 31 + $0 * 7) % 97) / 97 + 0.01 } }

    func run() throws {
        var options = StoreOptions()
        options.snapshotEveryLogBytes = 0  // snapshots at chosen moments below
        let store = try Store.open(directory: dataDir, options: options)
        try store.createCollection(CollectionConfiguration(
            name: "crash", dimension: 8, metric: .squaredL2,
            ivf: index == "ivf" ? IVFSettings(nlist: 8, nprobe: 8, trainingSize: 200) : nil))
        for i in start..<(start + count) {
            try store.upsert("crash", [Record(id: "r\(i)", vector: Self.vector(i), metadata: ["i": .number(Double(i))])])
            printAndFlush("ack r\(i)")
            // Snapshots now and then, so that kills also land inside them.
            if i % 25 == 24 { try store.snapshot() }
        }
    }
}
