import EngramSync
import EngramIndex
import EngramPostgres
import EngramTestSupport
import Testing


@Suite("Binary COPY, transactions and the pool (real server)", .enabled(if: PostgresTestEnvironment.shouldRun))
struct PostgresCopyAndPoolTests {
    @Test("binary COPY in and out round-trips text, int8, jsonb, vector and NULL exactly, hostile text included")
    func copyRoundTrip() throws {
        let db = try PostgresConnection()
        let table = try PostgresIdentifier(uniqueTable("copy"))
        try db.execute("CREATE TABLE \(table) (id text PRIMARY KEY, n bigint, meta jsonb, embedding vector(3))")
        defer { _ = try? db.execute("DROP TABLE \(table)") }
        var rng = SeededGenerator.forTest("postgres.copy", defaultSeed: 41)
        let rows = (0..<2500).map { i -> (String, Int64, String?, [Float]) in
            let id = i == 7 ? "'); DROP TABLE \(table); -- \"q\" ü" : "row-\(i)"
            let meta: String? = i % 10 == 0 ? nil : #"{"k": \#(i), "s": "a\"b"}"#
            return (id, Int64(i) * 1_000_000_007, meta, (0..<3).map { _ in Float.random(in: -1...1, using: &rng) })
        }
        var writer = BinaryCopyWriter()
        let stored = try db.copyIn("COPY \(table) (id, n, meta, embedding) FROM STDIN (FORMAT binary)") { send in
            for (id, n, meta, v) in rows {
                writer.row(fields: 4)
                writer.text(id)
                writer.int64(n)
                if let meta { writer.jsonb(meta) } else { writer.null() }
                v.withUnsafeBufferPointer { writer.vector($0) }
                if writer.pendingBytes > 4096 { try send(writer.take()) }  // streams in chunks
            }
            writer.finish()
            try send(writer.take())
        }
        #expect(stored == rows.count)

        var reader = BinaryCopyReader()
        var back = [String: (Int64, String?, [Float])]()
        try db.copyOut("COPY \(table) (id, n, meta, embedding) TO STDOUT (FORMAT binary)") { chunk in
            try reader.feed(chunk) { fields in
                var v = [Float](repeating: 0, count: 3)
                let d = try v.withUnsafeMutableBufferPointer { p in
                    try BinaryCopy.vector(fields[3]!, into: p.baseAddress!, capacity: 3)
                }
                #expect(d == 3)
                back[BinaryCopy.text(fields[0]!)] = (try BinaryCopy.int64(fields[1]!), try fields[2].map { try BinaryCopy.jsonb($0) }, v)
            }
        }
        #expect(reader.finished)
        #expect(back.count == rows.count)
        for (id, n, meta, v) in rows {
            let got = try #require(back[id], "\(id)")
            #expect(got.0 == n && got.2 == v)
            #expect((got.1 == nil) == (meta == nil))
        }
        // jsonb normalises spacing; the values survive.
        let k = try db.execute("SELECT meta->>'s' FROM \(table) WHERE id = \(.text("row-1"))")
        #expect(k.text(row: 0, column: 0) == "a\"b")
        #expect(try db.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'pg_class'").rowCount == 1)
    }

    @Test("a COPY the client aborts stores nothing; a failed transaction rolls back")
    func abortAndRollback() throws {
        let db = try PostgresConnection()
        let table = try PostgresIdentifier(uniqueTable("abort"))
        try db.execute("CREATE TABLE \(table) (id text PRIMARY KEY)")
        defer { _ = try? db.execute("DROP TABLE \(table)") }
        struct Stop: Error {}
        #expect(throws: (any Error).self) {
            try db.copyIn("COPY \(table) FROM STDIN (FORMAT binary)") { send in
                var w = BinaryCopyWriter()
                w.row(fields: 1)
                w.text("x")
                try send(w.take())
                throw Stop()
            }
        }
        #expect(throws: Stop.self) {
            try db.transaction {
                try db.execute("INSERT INTO \(table) VALUES (\(.text("y")))")
                throw Stop()
            }
        }
        #expect(try db.execute("SELECT count(*) FROM \(table)").text(row: 0, column: 0) == "0")
        try db.transaction { try db.execute("INSERT INTO \(table) VALUES (\(.text("z")))") }
        #expect(try db.execute("SELECT count(*) FROM \(table)").text(row: 0, column: 0) == "1")
    }

    @Test("the pool never opens more than its size, and replaces connections the server killed")
    func pool() throws {
        // Its own application name, so that ending its sessions leaves other tests' connections alone.
        let base = PostgresConfiguration.fromEnvironment().connectionString
        let name = "engram_pool_test_\(UInt32.random(in: 0...UInt32.max))"
        let url = base.isEmpty ? "application_name=\(name)" : base + (base.contains("?") ? "&" : "?") + "application_name=\(name)"
        let pool = try PostgresPool(PostgresConfiguration(connectionString: url),
                                    options: .init(maxConnections: 2, acquireTimeoutSeconds: 20, idleCheckSeconds: 0))
        let failures = Locked<[String]>([])
        let peak = Locked<Int>(0)
        runOnThreads(6) { _ in
            for _ in 0..<20 {
                do {
                    let one = try pool.withConnection { db in
                        peak.withLock { $0 = max($0, pool.openConnections) }
                        return try db.execute("SELECT 1").text(row: 0, column: 0)
                    }
                    if one != "1" { failures.withLock { $0.append("got \(String(describing: one))") } }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(peak.withLock { $0 } <= 2)
        // The server ends every pooled session (as a restart would): the pool notices on checkout and reconnects.
        let admin = try PostgresConnection()
        let ended = try admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \(.text(name))")
        #expect(ended.rowCount >= 1)
        for _ in 0..<4 {
            #expect(try pool.withConnection { try $0.execute("SELECT 2").text(row: 0, column: 0) } == "2")
        }
    }

    @Test("a pool for an unreachable server gives up after its timeout with a connection error")
    func unreachable() throws {
        let pool = try PostgresPool(
            PostgresConfiguration(connectionString: "postgresql:///postgres?host=/nonexistent-engram&port=1&connect_timeout=1"),
            options: .init(maxConnections: 1, acquireTimeoutSeconds: 0.5))
        let error = #expect(throws: PostgresError.self) { try pool.withConnection { _ in 1 } }
        #expect(error?.kind == .connection)
    }
}
