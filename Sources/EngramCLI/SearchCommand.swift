import ArgumentParser
import EngramDatasets
import EngramEngine
import EngramMetadata
import EngramTools

#if canImport(Glibc)
import Glibc
#endif

/// `engram search`: nearest records to a vector, optionally filtered by metadata.
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Search a collection.",
        discussion: "Opens the data directory read-only: nothing in it is created or changed.")

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @Option var collection: String
    @Option(parsing: .unconditional, help: "The query vector, comma-separated (a leading minus is part of it: --vector -0.1,0.2).") var vector: String?
    @Option(name: .customLong("query-file"), help: "Queries in a .fvecs file (one search each).") var queryFile: String?
    @Option var k: Int = 10
    @Option(name: .customLong("ef-search"), help: "HNSW: efSearch; IVF collections: the lists probed (nprobe).") var efSearch: Int?
    @Option(help: "A metadata filter as JSON, e.g. '{\"agent\": \"planner\", \"step\": {\"$gte\": 3}}'.") var filter: String?
    @OptionGroup var output: OutputOptions

    private struct Hit: Encodable {
        var id: String
        var distance: Float
        var metadata: MetadataValue
    }
    private struct Answer: Encodable { var query: Int; var hits: [Hit] }

    func validate() throws {
        guard (vector == nil) != (queryFile == nil) else { throw ValidationError("give exactly one of --vector and --query-file") }
        _ = try parsedVector()
    }

    /// `--vector` as numbers (nil without it).
    private func parsedVector() throws -> [Float]? {
        guard let vector else { return nil }
        return try vector.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let x = Float(part.trimmingSpaces) else { throw ValidationError("--vector takes comma-separated numbers, got '\(part)'") }
            return x
        }
    }

    func run() throws {
        let store = try Store.open(directory: dataDirectory.path, options: .readOnly)
        let parsedFilter = try filter.map { try MetadataFilter.parse(json: $0) }
        var queries = [[Float]]()
        if let q = try parsedVector() {
            queries.append(q)
        } else if let queryFile {
            let m = try DatasetReader.readFloats(queryFile)
            queries = (0..<m.rows).map { Array(m.row($0)) }
        }
        for (n, q) in queries.enumerated() {
            let hits = try store.search(collection, vector: q, k: k, efSearch: efSearch, filter: parsedFilter)
            if output.json {
                let answer = Answer(query: n, hits: hits.map { Hit(id: $0.id, distance: $0.distance, metadata: $0.metadata) })
                printAndFlush(JSONLine.encode(answer))
            } else {
                printAndFlush("query \(n):")
                for (rank, hit) in hits.enumerated() {
                    printAndFlush("  \(rank + 1). \(hit.id)  distance \(hit.distance)  \(MetadataJSON.format(hit.metadata))")
                }
            }
        }
        try store.close()
    }
}
