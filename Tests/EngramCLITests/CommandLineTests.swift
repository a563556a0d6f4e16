import ArgumentParser
import EngramKernels
import EngramTestSupport
import Testing
@testable import EngramCLI

@Suite("engram command line")
struct CommandLineTests {
    @Test("bench's help names every flag the issue fixes")
    func helpText() {
        let help = EngramCommand.helpMessage(for: BenchCommand.self)
        for flag in ["--dataset", "--base", "--queries", "--groundtruth", "--k", "--metric", "--index",
                     "--ef-search", "--build-threads", "--json", "--m", "--ef-construction", "--filter-selectivity"] {
            #expect(help.contains(flag), "help lacks \(flag)")
        }
    }

    @Test("the store commands share --data-dir, --json and the database options; the crash writer is not part of engram")
    func sharedOptions() {
        for command in [ImportCommand.self, SearchCommand.self, StatsCommand.self, DeleteCommand.self] as [ParsableCommand.Type] {
            let help = EngramCommand.helpMessage(for: command)
            #expect(help.contains("--data-dir") && help.contains("--json"), "\(command)")
        }
        for command in [CheckpointCommand.self, RestoreCommand.self, VerifyCommand.self] as [ParsableCommand.Type] {
            let help = EngramCommand.helpMessage(for: command)
            #expect(help.contains("--data-dir") && help.contains("--json") && help.contains("--database-url"), "\(command)")
        }
        #expect(!EngramCommand.helpMessage().contains("crash"))
    }

    @Test("bad arguments fail validation with a clear message and a non-zero exit code",
          arguments: [
            (["bench"], "--dataset"),
            (["bench", "--dataset", "x", "--base", "y"], "either --dataset"),
            (["bench", "--dataset", "x", "--ef-search", "10,20"], "does not apply to --index flat"),
            (["bench", "--dataset", "x", "--ef-search", "10,x"], "comma-separated"),
            (["bench", "--dataset", "x", "--k", "0"], "--k"),
            (["bench", "--dataset", "x", "--metric", "hamming"], "hamming"),
            (["bench", "--dataset", "x", "--index", "lsh"], "lsh"),
            (["bench", "--dataset", "x", "--index", "hnsw", "--m", "1"], "--m"),
            (["bench", "--dataset", "x", "--index", "hnsw", "--filter-selectivity", "2"], "(0, 1]"),
            (["bench", "--dataset", "x", "--filter-selectivity", "0.5"], "applies to --index hnsw"),
            (["import", "--data-dir", "d", "--collection", "c", "--file", "f", "--index", "flat"], "hnsw"),
            (["import", "--data-dir", "d", "--collection", "c", "--file", "f", "--nlist", "8"], "--index ivf"),
            (["search", "--data-dir", "d", "--collection", "c", "--vector", "1,,2"], "comma-separated numbers"),
            (["crash-writer", "--data-dir", "d"], "Unknown"),
          ])
    func badArguments(arguments: [String], message: String) {
        do {
            _ = try EngramCommand.parseAsRoot(arguments)
            Issue.record("\(arguments) parsed")
        } catch {
            #expect(EngramCommand.exitCode(for: error) != .success)
            let text = EngramCommand.message(for: error)
            #expect(text.contains(message), "\(arguments): \(text)")
        }
    }

    @Test("good arguments parse into the configuration")
    func goodArguments() throws {
        let command = try #require(try EngramCommand.parseAsRoot(
            ["bench", "--base", "/d/set/b.fvecs", "--queries", "q.fvecs", "--groundtruth", "g.ivecs", "--k", "5", "--metric", "l2"]
        ) as? BenchCommand)
        let c = try command.makeConfiguration()
        #expect(c.k == 5)
        #expect(c.metric == .squaredL2)
        #expect(c.datasetName == "set")
        #expect(c.index == .flat)
    }

    @Test("--dataset takes the metric its meta.json names unless --metric is given; cosine without either")
    func metricFromMeta() throws {
        let dir = TemporaryDirectory("engram-cli-meta")
        defer { dir.remove() }
        func metric(_ arguments: [String]) throws -> Metric {
            let command = try #require(try EngramCommand.parseAsRoot(["bench", "--dataset", dir.path] + arguments) as? BenchCommand)
            return try command.makeConfiguration().metric
        }
        #expect(try metric([]) == .cosine)
        dir.write(Array(#"{"metric": "euclidean"}"#.utf8), to: "meta.json")
        #expect(try metric([]) == .squaredL2)
        #expect(try metric(["--metric", "ip"]) == .innerProduct)
        dir.write(Array(#"{"metric": "jaccard"}"#.utf8), to: "meta.json")
        let unknown = #expect(throws: (any Error).self) { try EngramCommand.parseAsRoot(["bench", "--dataset", dir.path]) }
        #expect(unknown.map { EngramCommand.message(for: $0) }?.contains(#"the metric "jaccard""#) == true)
        #expect(try metric(["--metric", "l2"]) == .squaredL2)
    }
}
