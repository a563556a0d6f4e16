import ArgumentParser
import EngramEngine
import EngramPostgres

/// `--data-dir`: the store's data directory (every command that opens a store).
struct DataDirectoryOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The store's data directory.")
    var path: String
}

/// `--map-floats DIR`: HNSW collections keep their float vectors in a
/// memory-mapped, nameless file in DIR instead of on the heap
/// (`StoreOptions.mappedFloatsDirectory`).
struct VectorMemoryOptions: ParsableArguments {
    @Option(name: .customLong("map-floats"), help: ArgumentHelp(
        "Keep HNSW collections' float vectors in a memory-mapped file in this directory (out of the heap; read to build and re-rank).",
        valueName: "dir"))
    var directory: String?

    /// `options` with the floats placed as asked.
    func applied(to options: StoreOptions) -> StoreOptions {
        var options = options
        options.mappedFloatsDirectory = directory
        return options
    }
}

/// `--json`: machine output, one JSON object per line on stdout.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print one JSON object per line instead of text.")
    var json = false
}

/// The database: `--database-url`, else `ENGRAM_DATABASE_URL`, else the standard `PG*` variables.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "A libpq connection string or URL (default: ENGRAM_DATABASE_URL, else the PG* variables).")
    var url: String?

    var configuration: PostgresConfiguration {
        url.map { PostgresConfiguration(connectionString: $0) } ?? .fromEnvironment()
    }

    /// A small pool: the commands use one or two connections.
    func pool() throws -> PostgresPool {
        try PostgresPool(configuration, options: .init(maxConnections: 2, acquireTimeoutSeconds: 10))
    }
}

/// `--index` when creating a collection: a closed choice.
enum CollectionIndexKind: String, ExpressibleByArgument, CaseIterable {
    case hnsw
    case ivf
}
