import EngramEngine
import EngramPostgres
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every file under `path` with its bytes, to show that a command changed nothing.
private func contents(_ path: String) -> [String: [UInt8]] {
    var out = [String: [UInt8]]()
    guard let dir = opendir(path) else { return out }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != "." && name != ".." else { continue }
        let full = "\(path)/\(name)"
        var st = stat()
        guard stat(full, &st) == 0 else { continue }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for (inner, bytes) in contents(full) { out["\(name)/\(inner)"] = bytes }
        } else {
            out[name] = TemporaryDirectory.readFile(full)
        }
    }
    return out
}


@Suite("engram import, search, stats, delete and verify, run as a process")
struct StoreCommandLineTests {
    @Test("import → stats → search (a leading minus in --vector) → delete by --id and --file → stats")
    func endToEnd() throws {
        let dir = TemporaryDirectory("engram-cli")
        defer { dir.remove() }
        let data = dir.path + "/data"
        let input = dir.path + "/in.jsonl"
        writeLines(input, (0..<50).map { #"{"id": "r\#($0)", "vector": [\#(Float($0) / 10), -1, 0.5], "metadata": {"n": \#($0)}}"# }
            + [#"{"id": 7000, "vector": [0, 0, 1]}"#])
        let imported = try engram(["import", "--data-dir", data, "--collection", "c", "--file", input, "--dimension", "3", "--metric", "l2", "--batch", "20"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("durable: 51 records"), "\(imported.stdout)")

        let stats = try engram(["stats", "--data-dir", data, "--json"])
        #expect(stats.status == 0, "\(stats.stderr)")
        #expect(stats.stdout.contains(#""count":51"#), "\(stats.stdout)")

        let search = try engram(["search", "--data-dir", data, "--collection", "c", "--vector", "-0.1,-1,0.5", "--k", "2", "--json"])
        #expect(search.status == 0, "\(search.stderr)")
        #expect(search.stdout.contains(#""id":"r0""#), "\(search.stdout)")
        let filtered = try engram(["search", "--data-dir", data, "--collection", "c", "--vector", "4,-1,0.5", "--k", "3",
                                   "--filter", #"{"n": {"$lt": 10}}"#, "--json"])
        #expect(filtered.status == 0 && filtered.stdout.contains(#""id":"r9""#) && !filtered.stdout.contains(#""id":"r40""#), "\(filtered.stdout)")

        let byID = try engram(["delete", "--data-dir", data, "--collection", "c", "--id", "r1", "--id", "r2", "--id", "absent"])
        #expect(byID.status == 0 && byID.stdout.contains("deleted 2 of 3"), "\(byID.stdout) \(byID.stderr)")
        writeLines(dir.path + "/ids.txt", ["r3", "", "r4", "7000"])
        let byFile = try engram(["delete", "--data-dir", data, "--collection", "c", "--file", dir.path + "/ids.txt", "--json"])
        #expect(byFile.status == 0 && byFile.stdout.contains(#""deleted":3"#), "\(byFile.stdout) \(byFile.stderr)")
        let after = try engram(["stats", "--data-dir", data, "--json"])
        #expect(after.stdout.contains(#""count":46"#), "\(after.stdout)")
        let gone = try engram(["search", "--data-dir", data, "--collection", "c", "--vector", "0.1,-1,0.5", "--k", "1", "--json"])
        #expect(!gone.stdout.contains(#""id":"r1""#), "\(gone.stdout)")
    }

    @Test("import --text-field → stats → search --text, hybrid --explain --json, --query-file with --text-file")
    func textAndHybrid() throws {
        let dir = TemporaryDirectory("engram-cli")
        defer { dir.remove() }
        let data = dir.path + "/data"
        let input = dir.path + "/in.jsonl"
        let texts = ["the upload failed with ENOSPC", "disk quota exceeded on /var", "connection refused by libfoo-dev", "planner summary"]
        writeLines(input, (0..<40).map { i in
            let text = i < texts.count ? #", "text": {"content": "\#(texts[i])", "title": "note \#(i)"}"# : (i % 2 == 0 ? #", "text": {"title": "note \#(i)"}"# : "")
            return #"{"id": "r\#(i)", "vector": [\#(Float(i) / 10), -1, 0.5], "metadata": {"n": \#(i)}\#(text)}"#
        })
        let imported = try engram(["import", "--data-dir", data, "--collection", "c", "--file", input, "--dimension", "3", "--metric", "l2",
                                   "--text-field", "title", "--text-field", "content"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let stats = try engram(["stats", "--data-dir", data, "--json"])
        #expect(stats.stdout.contains(#""text_documents":22"#) && stats.stdout.contains(#""text_fields":["title","content"]"#), "\(stats.stdout)")

        let byText = try engram(["search", "--data-dir", data, "--collection", "c", "--text", "ENOSPC", "--json"])
        #expect(byText.status == 0, "\(byText.stderr)")
        #expect(byText.stdout.hasPrefix(#"{"hits":[{"id":"r0","#), "\(byText.stdout)")
        let hybrid = try engram(["search", "--data-dir", data, "--collection", "c", "--vector", "2.1,-1,0.5", "--text", "libfoo-dev refused",
                                 "--fusion", "weighted", "--alpha", "0.5", "--k", "3", "--explain", "--json"])
        #expect(hybrid.status == 0, "\(hybrid.stderr)")
        // r2 is the text's best and close to the vector; r21 is the vector's nearest.
        #expect(hybrid.stdout.contains(#""id":"r2""#) && hybrid.stdout.contains(#""text_rank":1"#) && hybrid.stdout.contains(#""vector_rank":1"#), "\(hybrid.stdout)")
        let diverse = try engram(["search", "--data-dir", data, "--collection", "c", "--vector", "2.1,-1,0.5", "--text", "note", "--mmr", "0.5", "--explain"])
        #expect(diverse.status == 0 && diverse.stdout.contains("MMR: relevance"), "\(diverse.stdout) \(diverse.stderr)")

        // Many queries at once: vector i with text line i; a text file alone is a text-only search per line.
        let queries = dir.path + "/q.fvecs"
        var fvecs = [UInt8]()
        for v: [Float] in [[0, -1, 0.5], [0.3, -1, 0.5]] {
            withUnsafeBytes(of: Int32(3).littleEndian) { fvecs += $0 }
            for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { fvecs += $0 } }
        }
        TemporaryDirectory.writeFile(queries, fvecs)
        writeLines(dir.path + "/q.txt", ["disk quota", "planner"])
        let batch = try engram(["search", "--data-dir", data, "--collection", "c", "--query-file", queries, "--text-file", dir.path + "/q.txt", "--k", "2", "--json"])
        let lines = batch.stdout.split(separator: "\n")
        #expect(batch.status == 0 && lines.count == 2, "\(batch.stdout) \(batch.stderr)")
        #expect(lines.first?.contains(#""query":0"#) == true && lines.last?.contains(#""query":1"#) == true)
        let textOnly = try engram(["search", "--data-dir", data, "--collection", "c", "--text-file", dir.path + "/q.txt", "--k", "1", "--json"])
        #expect(textOnly.stdout.split(separator: "\n").map { $0.contains(#""id":"r1""#) || $0.contains(#""id":"r3""#) } == [true, true], "\(textOnly.stdout)")
        writeLines(dir.path + "/short.txt", ["one line"])
        let mismatch = try engram(["search", "--data-dir", data, "--collection", "c", "--query-file", queries, "--text-file", dir.path + "/short.txt"])
        #expect(mismatch.status != 0 && !crashed(mismatch) && mismatch.stderr.contains("2 queries but"), "\(mismatch.stderr)")
        let noText = try engram(["import", "--data-dir", data, "--collection", "plain", "--file", input, "--dimension", "3"])
        #expect(noText.status != 0 && noText.stderr.contains("has no text fields"), "\(noText.stderr)")
    }

    @Test("search and stats change nothing in the data directory, even with a torn tail to skip; a missing directory is an error, not created")
    func readOnlyCommands() throws {
        let dir = TemporaryDirectory("engram-cli")
        defer { dir.remove() }
        let data = dir.path + "/data"
        do {
            let store = try Store.open(directory: data, options: StoreOptions(durability: .osBuffered))
            try store.createCollection(CollectionConfiguration(name: "c", dimension: 2, metric: .squaredL2))
            for i in 0..<30 { try store.upsert("c", [Record(id: "r\(i)", vector: [Float(i), 1])]) }
            _ = try store.delete("c", ids: ["r5"])
            try store.close(writingSnapshot: false)  // as a crash leaves it: no snapshot since the writes
        }
        // A torn tail, as a crash mid-write leaves it.
        let wal = contents(data).keys.filter { $0.hasPrefix("wal/") }.sorted()
        let segment = data + "/" + (try #require(wal.last))
        TemporaryDirectory.writeFile(segment, TemporaryDirectory.readFile(segment) + [7, 0, 0, 0, 1, 2])
        let before = contents(data)
        for arguments in [["stats", "--data-dir", data], ["stats", "--data-dir", data, "--json"],
                          ["search", "--data-dir", data, "--collection", "c", "--vector", "3,1", "--k", "3"]] {
            let run = try engram(arguments)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
            #expect(contents(data) == before, "\(arguments) changed the data directory")
        }
        let stats = try engram(["stats", "--data-dir", data, "--json"])
        #expect(stats.stdout.contains(#""count":29"#), "\(stats.stdout)")
        let missing = dir.path + "/nothing-here"
        for arguments in [["stats", "--data-dir", missing], ["search", "--data-dir", missing, "--collection", "c", "--vector", "1,1"]] {
            let run = try engram(arguments)
            #expect(run.status != 0 && !crashed(run), "\(arguments)")
            #expect(run.stderr.contains("no data directory"), "\(run.stderr)")
            #expect(access(missing, F_OK) != 0, "\(arguments) created \(missing)")
        }
    }

    @Test("bad input is a message and a non-zero exit, never a trap",
          arguments: [
            ([#"{"id": 1e19, "vector": [1, 2]}"#], [String](), "2^53"),
            ([#"{"id": 1.5, "vector": [1, 2]}"#], [], "integer"),
            ([#"{"id": "a\u0000b", "vector": [1, 2]}"#], [], "U+0000"),
            ([#"{"id": "a", "vector": [1, 2], "metadata": {"k": "x\u0000"}}"#], [], "U+0000"),
            ([#"{"id": "a", "vector": [1e39, 2]}"#], [], "float32"),
            ([#"{"id": "a", "vector": [1, 2, 3]}"#], [], "dimension"),
            ([#"{"id": "a", "vector": [1, 2]"#], [], "JSON"),
            ([#"{"id": "a", "vector": [1, 2]}"#], ["--index", "ivf", "--nprobe", "5000000000"], "nprobe"),
            ([#"{"id": "a", "vector": [1, 2]}"#], ["--index", "ivf", "--nlist", "-3"], "nlist"),
            ([#"{"id": "a", "vector": [1, 2]}"#], ["--batch", "0"], "--batch"),
            ([#"{"id": "a", "vector": [1, 2], "text": "not an object"}"#], ["--text-field", "content"], "\"text\" must be an object"),
            ([#"{"id": "a", "vector": [1, 2], "text": {"content": 3}}"#], ["--text-field", "content"], "must be a string"),
            ([#"{"id": "a", "vector": [1, 2], "text": {"body": "x"}}"#], ["--text-field", "content"], "not one of the collection's"),
            ([#"{"id": "a", "vector": [1, 2], "text": {"content": "x"}}"#], [], "has no text fields"),
            ([#"{"id": "a", "vector": [1, 2]}"#], ["--text-field", "Content"], "lower-case"),
          ])
    func badImports(lines: [String], extra: [String], message: String) throws {
        let dir = TemporaryDirectory("engram-cli")
        defer { dir.remove() }
        writeLines(dir.path + "/in.jsonl", lines)
        let run = try engram(["import", "--data-dir", dir.path + "/data", "--collection", "c", "--file", dir.path + "/in.jsonl",
                              "--dimension", "2", "--metric", "l2"] + extra)
        #expect(run.status != 0 && !crashed(run), "status \(run.status): \(run.stderr)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }

    @Test("bad delete and search arguments are messages, not traps",
          arguments: [
            (["delete", "--data-dir", "/tmp/x", "--collection", "c"], "--id"),
            (["delete", "--data-dir", "/tmp/x", "--collection", "c", "--id", "a", "--file", "f"], "not both"),
            (["search", "--data-dir", "/tmp/x", "--collection", "c", "--vector", "1,x"], "comma-separated numbers"),
            (["search", "--data-dir", "/tmp/x", "--collection", "c"], "give a query"),
            (["search", "--data-dir", "/tmp/x", "--collection", "c", "--text", "a", "--text-file", "f"], "at most one of --text"),
            (["search", "--data-dir", "/tmp/x", "--collection", "c", "--vector", "1", "--text-file", "f"], "goes with --query-file"),
            (["search", "--data-dir", "/tmp/x", "--collection", "c", "--text", "a", "--fusion", "max"], "fusion"),
            (["search", "--data-dir", "/tmp/x", "--collection", "c", "--text", "a", "--alpha", "2"], "--alpha"),
            (["search", "--data-dir", "/tmp/x", "--collection", "c", "--text", "a", "--mmr", "nan"], "--mmr"),
            (["verify", "--data-dir", "/tmp/x", "--sample-every", "0"], "--sample-every"),
          ])
    func badArguments(arguments: [String], message: String) throws {
        let run = try engram(arguments)
        #expect(run.status != 0 && !crashed(run), "\(arguments): \(run.status)")
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }

    @Test("verify: consistent after a checkpoint, pending before the next, and a row changed behind the store's back is a difference (exit 1)",
          .enabled(if: PostgresTestEnvironment.shouldRun))
    func verify() throws {
        let dir = TemporaryDirectory("engram-cli")
        defer { dir.remove() }
        let schema = "engram_test_cli_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try PostgresConnection()
        let schemaName = try PostgresIdentifier(schema)
        try admin.execute("CREATE SCHEMA \(schemaName)")
        defer { _ = try? admin.execute("DROP SCHEMA \(schemaName) CASCADE") }
        let base = PostgresConfiguration.fromEnvironment().connectionString
        let url = (base.isEmpty ? "postgresql:///postgres" : base) + (base.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(schema)%2Cpublic"
        let env = ["ENGRAM_DATABASE_URL": url]
        let data = dir.path + "/data"
        writeLines(dir.path + "/in.jsonl", (0..<40).map { #"{"id": "r\#($0)", "vector": [\#($0), 1, 2], "metadata": {"n": \#($0)}}"# })
        #expect(try engram(["import", "--data-dir", data, "--collection", "c", "--file", dir.path + "/in.jsonl", "--dimension", "3", "--metric", "l2"]).status == 0)
        let checkpoint = try engram(["checkpoint", "--data-dir", data], environment: env)
        #expect(checkpoint.status == 0, "\(checkpoint.stderr)")
        let good = try engram(["verify", "--data-dir", data, "--json"], environment: env)
        #expect(good.status == 0 && good.stdout.contains(#""consistent":true"#) && good.stdout.contains(#""vectors_compared":40"#), "\(good.stdout) \(good.stderr)")
        // Changes after the checkpoint are pending, not differences.
        #expect(try engram(["delete", "--data-dir", data, "--collection", "c", "--id", "r3"]).status == 0)
        let pending = try engram(["verify", "--data-dir", data, "--json"], environment: env)
        #expect(pending.status == 0 && pending.stdout.contains(#""pending_deletes":1"#), "\(pending.stdout) \(pending.stderr)")
        // A row changed in the table, one deleted, one added: three differences.
        let table = try PostgresIdentifier(PostgresSchema.tableName(forCollection: "c"))
        try admin.execute("UPDATE \(schemaName).\(table) SET embedding = '[9,9,9]' WHERE id = 'r1'")
        try admin.execute("DELETE FROM \(schemaName).\(table) WHERE id = 'r2'")
        try admin.execute("INSERT INTO \(schemaName).\(table) (id, embedding, metadata, lsn) VALUES ('ghost', '[1,1,1]', '{}', 1)")
        let bad = try engram(["verify", "--data-dir", data], environment: env)
        #expect(bad.status == 1, "\(bad.stdout) \(bad.stderr)")
        #expect(bad.stdout.contains("NOT consistent: 3 differences"), "\(bad.stdout)")
        for kind in ["vector: collection 'c' id 'r1'", "missing: collection 'c' id 'r2'", "phantom: collection 'c' id 'ghost'"] {
            #expect(bad.stdout.contains(kind), "\(bad.stdout)")
        }
    }
}
