import EngramTestSupport
import Testing

/// `engram memory import | recall | facts | forget`, run as a process.
@Suite("engram memory, run as a process")
struct MemoryCommandLineTests {
    static func vector(_ i: Int) -> String { "[" + (0..<4).map { j in String(Float((i * 7 + j * 3) % 11) - 5) }.joined(separator: ", ") + "]" }

    @Test("import typed JSON Lines → recall with time travel and explanations → facts as of two times → forget")
    func endToEnd() throws {
        let dir = TemporaryDirectory("engram-cli-memory")
        defer { dir.remove() }
        let data = dir.path + "/data", file = dir.path + "/memory.jsonl"
        var lines = [
            #"{"type": "agent", "tenant": "acme", "id": "planner", "name": "Planner", "groups": ["ops"]}"#,
            #"{"type": "agent", "tenant": "acme", "id": "critic", "name": "Critic"}"#,
            #"{"type": "task", "tenant": "acme", "id": "deploy", "title": "Deploy v2", "agent": "planner", "status": "succeeded", "result": {"ok": true}}"#,
            #"{"type": "entity", "tenant": "acme", "id": "alice", "entity_type": "person", "name": "Alice", "embedding": \#(Self.vector(90))}"#,
            #"{"type": "entity", "tenant": "acme", "id": "acme-co", "entity_type": "company", "name": "Acme", "embedding": \#(Self.vector(91))}"#,
            #"{"type": "entity", "tenant": "acme", "id": "initech", "entity_type": "company", "name": "Initech", "embedding": \#(Self.vector(92))}"#,
            #"{"type": "fact", "tenant": "acme", "id": "f1", "subject": "alice", "predicate": "works_at", "object_entity": "acme-co", "text": "Alice works at Acme", "embedding": \#(Self.vector(93)), "valid_from": "2024-01-01T00:00:00Z", "single_valued": true}"#,
            #"{"type": "fact", "tenant": "acme", "id": "f2", "subject": "alice", "predicate": "works_at", "object_entity": "initech", "text": "Alice works at Initech", "embedding": \#(Self.vector(94)), "valid_from": "2026-06-01T00:00:00Z", "single_valued": true}"#,
        ]
        for i in 0..<12 {
            let group = i % 4 == 0 ? #", "group": "ops""# : ""
            lines.append(#"{"type": "experience", "tenant": "acme", "id": "e\#(i)", "agent": "\#(i % 2 == 0 ? "planner" : "critic")", "kind": "\#(i % 3 == 0 ? "action" : "observation")", "content": "step \#(i) of the deploy: \#(i == 5 ? "disk full ENOSPC" : "all good")", "embedding": \#(Self.vector(i)), "occurred_at": "2026-01-\#(String(format: "%02d", i + 1))T00:00:00Z", "importance": \#(Double(i) / 12)\#(group)}"#)
        }
        lines.append(#"{"type": "experience", "tenant": "acme", "id": "dup", "agent": "planner", "kind": "action", "content": "step 2 of the deploy: all good", "embedding": \#(Self.vector(2)), "occurred_at": "2026-02-01T00:00:00Z"}"#)
        writeLines(file, lines)
        let imported = try engram(["memory", "import", "--data-dir", data, "--file", file, "--json"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains(#""agents":2"#) && imported.stdout.contains(#""duplicates":1"#) && imported.stdout.contains(#""experiences":12"#), "\(imported.stdout) \(imported.stderr.suffix(600))")

        // The critic sees its own experiences only; text search with a half-open window and explanations.
        let recall = try engram(["memory", "recall", "--data-dir", data, "--tenant", "acme", "--agent", "critic", "--text", "disk deploy",
                                 "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-07T00:00:00Z", "--json"])
        #expect(recall.status == 0, "\(recall.stderr)")
        #expect(recall.stdout.hasPrefix(#"{"hits":[{"content":"step 5 of the deploy: disk full ENOSPC","#), "\(recall.stdout)")
        #expect(!recall.stdout.contains(#""id":"e7""#) && !recall.stdout.contains(#""id":"e0""#), "\(recall.stdout)")  // outside the window; the planner's
        let weighted = try engram(["memory", "recall", "--data-dir", data, "--tenant", "acme", "--agent", "planner", "--vector=\(Self.vector(4).dropFirst().dropLast().replacingOccurrences(of: " ", with: ""))",
                                   "--half-life", "7d", "--importance-weight", "0.5", "--k", "3", "--json"])
        #expect(weighted.status == 0 && weighted.stdout.contains(#""decay":"#) && weighted.stdout.contains(#""importance_part":"#), "\(weighted.stdout) \(weighted.stderr)")

        let before = try engram(["memory", "facts", "--data-dir", data, "--tenant", "acme", "--entity", "alice", "--as-of", "2025-01-01T00:00:00Z", "--json"])
        #expect(before.stdout.contains(#""object_entity":"acme-co""#) && !before.stdout.contains("initech"), "\(before.stdout) \(before.stderr)")
        let after = try engram(["memory", "facts", "--data-dir", data, "--tenant", "acme", "--entity", "alice", "--as-of", "2026-07-01T00:00:00Z", "--json"])
        #expect(after.stdout.contains(#""object_entity":"initech""#) && !after.stdout.contains("acme-co"), "\(after.stdout)")

        let forgot = try engram(["memory", "forget", "--data-dir", data, "--tenant", "acme", "--agent", "critic", "--json"])
        #expect(forgot.status == 0 && forgot.stdout.contains(#""forgotten":7"#), "\(forgot.stdout) \(forgot.stderr)")  // 6 experiences and the agent
        let gone = try engram(["memory", "recall", "--data-dir", data, "--tenant", "acme", "--agent", "critic", "--text", "disk", "--json"])
        #expect(gone.stdout.hasPrefix(#"{"hits":[]}"#), "\(gone.stdout)")
        // A store that never checkpointed is purged at once: the forgotten vectors erased, the old log segments gone.
        let purged = try engram(["memory", "forget", "--data-dir", data, "--tenant", "acme", "--agent", "planner", "--purge", "--json"])
        #expect(purged.status == 0 && purged.stdout.contains(#""erased_vectors":"#) && purged.stdout.contains(#""removed_segments":"#)
                && purged.stdout.contains(#""log_kept_from":"#) && !purged.stdout.contains("checkpoint_lsn"), "\(purged.stdout) \(purged.stderr)")
        let none = try engram(["memory", "recall", "--data-dir", data, "--tenant", "acme", "--agent", "planner", "--text", "disk", "--json"])
        #expect(none.status == 0 && none.stdout.hasPrefix(#"{"hits":[]}"#), "\(none.stdout) \(none.stderr)")
    }

    @Test("engram bench --memory and --memory-graph run end to end at a small size and append their JSON keys")
    func memoryBenches() throws {
        let dir = TemporaryDirectory("engram-cli-memory-bench")
        defer { dir.remove() }
        let json = dir.path + "/bench.jsonl"
        let recall = try engram(["bench", "--memory", "--memory-experiences", "300", "--memory-agents", "10", "--memory-dimension", "8",
                                 "--writers", "2", "--max-queries", "20", "--durability", "os-buffered", "--json", json])
        #expect(recall.status == 0 && recall.stdout.contains("recall@10"), "\(recall.stdout) \(recall.stderr)")
        let graph = try engram(["bench", "--memory-graph", "--memory-entities", "60", "--memory-facts", "300", "--memory-dimension", "8",
                                "--writers", "2", "--max-queries", "20", "--durability", "os-buffered", "--json", json])
        #expect(graph.status == 0 && graph.stdout.contains("neighbours to depth 2"), "\(graph.stdout) \(graph.stderr)")
        let lines = String(decoding: TemporaryDirectory.readFile(json), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 2)
        for key in ["remember_per_s", "recall_p50_us", "recall_at_10", "cache_hit_rate", "cache_repeat_hit_rate", "miss_p50_us"] {
            #expect(lines.first?.contains("\"\(key)\":") == true, "--memory: \(key)")
        }
        for key in ["entities", "facts", "depth", "load_s", "neighbours_p50_us", "neighbours_p99_us", "reached_mean"] {
            #expect(lines.last?.contains("\"\(key)\":") == true, "--memory-graph: \(key)")
        }
        let bad = try engram(["bench", "--memory-graph", "--memory-depth", "9", "--memory-entities", "10", "--memory-facts", "10"])
        #expect(bad.status != 0 && !crashed(bad) && bad.stderr.contains("depth"), "\(bad.stderr)")
    }

    @Test("bad memory arguments and files are messages and a non-zero exit, never a trap",
          arguments: [
            (["memory", "recall", "--data-dir", "/tmp/x", "--tenant", "t", "--agent", "a"], "give --vector, --text"),
            (["memory", "recall", "--data-dir", "/tmp/x", "--tenant", "t", "--agent", "a", "--text", "x", "--half-life", "soon"], "--half-life"),
            (["memory", "recall", "--data-dir", "/tmp/x", "--tenant", "t", "--agent", "a", "--text", "x", "--from", "yesterday"], "--from"),
            (["memory", "forget", "--data-dir", "/tmp/x", "--tenant", "t"], "exactly one"),
            (["memory", "forget", "--data-dir", "/tmp/x", "--agent", "a"], "need --tenant"),
          ])
    func badArguments(arguments: [String], message: String) throws {
        let run = try engram(arguments)
        #expect(run.status != 0 && !crashed(run), "\(arguments): \(run.status)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }

    @Test("a bad line names its file and line, and nothing is imported")
    func badFile() throws {
        let dir = TemporaryDirectory("engram-cli-memory")
        defer { dir.remove() }
        writeLines(dir.path + "/m.jsonl", [#"{"type": "agent", "tenant": "t", "id": "a", "name": "A"}"#, #"{"type": "agent", "tenant": "t", "id": "b"}"#])
        let run = try engram(["memory", "import", "--data-dir", dir.path + "/data", "--file", dir.path + "/m.jsonl"])
        #expect(run.status != 0 && !crashed(run) && run.stderr.contains("m.jsonl:2") && run.stderr.contains("\"name\""), "\(run.stderr)")
        let recall = try engram(["memory", "recall", "--data-dir", dir.path + "/data", "--tenant", "t", "--agent", "a", "--text", "x"])
        #expect(recall.status != 0 && !crashed(recall), "\(recall.stdout) \(recall.stderr)")
    }
}
