import EngramPostgres
import EngramTestSupport
import Testing


@Suite("PostgreSQL + pgvector through libpq (real server)", .enabled(if: PostgresTestEnvironment.shouldRun))
struct PostgresConnectionTests {
    @Test("connects from the environment and has pgvector")
    func connects() throws {
        let db = try PostgresConnection()
        #expect(db.serverVersion >= 150000)
        let ext = try db.execute("SELECT extversion FROM pg_extension WHERE extname = \(.text("vector"))")
        #expect(ext.rowCount == 1, "CREATE EXTENSION vector has not run")
    }

    @Test("a vector inserted as text and as binary reads back exactly, in both formats")
    func vectorRoundTrip() throws {
        let db = try PostgresConnection()
        let table = try PostgresIdentifier(uniqueTable("vec"))
        try db.execute("CREATE TABLE \(table) (id int PRIMARY KEY, embedding vector(4))")
        defer { _ = try? db.execute("DROP TABLE \(table)") }
        let a: [Float] = [1, -0.5, 3.25, 1e-7]
        let b: [Float] = [0.1, 0.2, 0.3, 123456.79]
        try db.execute("INSERT INTO \(table) VALUES (\(.text("1")), \(.text(PgVectorCodec.text(a)))::vector)")
        try db.execute("INSERT INTO \(table) VALUES (\(.text("2")), \(.binary(PgVectorCodec.binary(b)))::vector)")

        let asText = try db.execute("SELECT embedding::text FROM \(table) ORDER BY id")
        #expect(try PgVectorCodec.decode(text: asText.text(row: 0, column: 0)!) == a)
        #expect(try PgVectorCodec.decode(text: asText.text(row: 1, column: 0)!) == b)

        let asBinary = try db.execute("SELECT embedding FROM \(table) ORDER BY id", resultFormat: .binary)
        #expect(try PgVectorCodec.decode(binary: asBinary.bytes(row: 0, column: 0)!) == a)
        #expect(try PgVectorCodec.decode(binary: asBinary.bytes(row: 1, column: 0)!) == b)

        // pgvector's own distance agrees on which row is nearer.
        let nearest = try db.execute("SELECT id FROM \(table) ORDER BY embedding <-> \(.binary(PgVectorCodec.binary(b)))::vector LIMIT 1")
        #expect(nearest.text(row: 0, column: 0) == "2")
    }

    @Test("values and identifiers holding quotes, semicolons and SQL are stored verbatim")
    func hostileText() throws {
        let db = try PostgresConnection()
        let name = uniqueTable("q\"; DROP TABLE pg_class; --")
        let table = try PostgresIdentifier(name)
        try db.execute("CREATE TABLE \(table) (id text, note text)")
        defer { _ = try? db.execute("DROP TABLE \(table)") }
        let hostile = "'); DELETE FROM \(table); -- \" \\ ünïcødé"
        try db.execute("INSERT INTO \(table) VALUES (\(.text(hostile)), \(.null))")
        let back = try db.execute("SELECT id, note FROM \(table)")
        #expect(back.rowCount == 1)
        #expect(back.text(row: 0, column: 0) == hostile)
        #expect(back.text(row: 0, column: 1) == nil)
        let listed = try db.execute("SELECT count(*) FROM pg_tables WHERE tablename = \(.text(name))")
        #expect(listed.text(row: 0, column: 0) == "1")
    }

    @Test("server errors carry their SQLSTATE")
    func serverErrors() throws {
        let db = try PostgresConnection()
        let missing = #expect(throws: PostgresError.self) { try db.execute("SELECT * FROM engram_no_such_table") }
        #expect(missing?.kind == .server)
        #expect(missing?.sqlState == "42P01")
        let wrongDim = #expect(throws: PostgresError.self) {
            try db.execute("SELECT \(.text("[1,2]"))::vector(3)")
        }
        #expect(wrongDim?.sqlState == "22000")
        // The connection is still usable after an error.
        #expect(try db.execute("SELECT 1").text(row: 0, column: 0) == "1")
    }

    @Test("the caller's mistakes are .invalidArgument, checked before anything is sent; not .decoding or .server")
    func callerErrors() throws {
        let empty = #expect(throws: PostgresError.self) { try PostgresIdentifier("") }
        #expect(empty?.kind == .invalidArgument)
        let pool = #expect(throws: PostgresError.self) { try PostgresPool(options: .init(maxConnections: 0)) }
        #expect(pool?.kind == .invalidArgument)
        let db = try PostgresConnection()
        try db.execute("CREATE TEMP TABLE engram_aborted (x int)")
        struct Stop: Error {}
        let aborted = #expect(throws: PostgresError.self) {
            try db.copyIn("COPY engram_aborted FROM STDIN") { _ in throw Stop() }
        }
        #expect(aborted?.kind == .aborted, "\(String(describing: aborted))")
        #expect(try db.execute("SELECT count(*) FROM engram_aborted").text(row: 0, column: 0) == "0")
    }
}

@Suite("libpq wrapper without a server")
struct PostgresOfflineTests {
    @Test("an unreachable server is a connection error")
    func unreachable() {
        let error = #expect(throws: PostgresError.self) {
            try PostgresConnection(PostgresConfiguration(
                connectionString: "postgresql:///postgres?host=/nonexistent-engram&port=1&connect_timeout=2"))
        }
        #expect(error?.kind == .connection)
    }

    @Test("vector codecs round-trip and reject malformed bytes")
    func codecs() throws {
        let v: [Float] = [0, -1.5, .leastNonzeroMagnitude, 3.4e38]
        #expect(try PgVectorCodec.decode(binary: PgVectorCodec.binary(v)) == v)
        #expect(try PgVectorCodec.decode(text: PgVectorCodec.text(v)) == v)
        #expect(PgVectorCodec.binary([1]) == [0, 1, 0, 0, 0x3F, 0x80, 0, 0])
        #expect(throws: PostgresError.self) { try PgVectorCodec.decode(binary: [0, 2, 0, 0, 1, 2, 3, 4]) }
        #expect(throws: PostgresError.self) { try PgVectorCodec.decode(binary: [0]) }
        #expect(throws: PostgresError.self) { try PgVectorCodec.decode(text: "1,2") }
        #expect(throws: PostgresError.self) { try PgVectorCodec.decode(text: "[1,x]") }
        #expect(try PostgresIdentifier("a\"b").quoted == "\"a\"\"b\"")
        #expect(throws: PostgresError.self) { try PostgresIdentifier(String(repeating: "x", count: 64)) }
        // Interpolated values are bind parameters, identifiers are quoted, and raw text is explicit.
        let id = try PostgresIdentifier("t")
        let query: PostgresQuery = "SELECT \(unsafeRaw: "1") FROM \(id) WHERE a = \("x'; DROP TABLE t; --") AND b = \(42)"
        #expect(query.sql == "SELECT 1 FROM \"t\" WHERE a = $1 AND b = $2")
        #expect(query.binds == [.text("x'; DROP TABLE t; --"), .text("42")])
        #expect(!query.description.contains("DROP"))
        #expect(throws: PostgresError.self) { try PostgresIdentifier("") }
    }
}
