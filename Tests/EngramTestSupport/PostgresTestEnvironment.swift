#if canImport(Glibc)
import Glibc
#endif

/// Whether the tests that need a real PostgreSQL with pgvector run.
///
/// They run when `CI=true` (where `.ci/run` has started the server, so an
/// unreachable server is a failure, never a skip) or when a server is
/// configured (`ENGRAM_DATABASE_URL` or `PGHOST`), as `scripts/test` does.
/// Only a bare `swift test` on a machine with no server skips them.
public enum PostgresTestEnvironment {
    public static var isCI: Bool { environment("CI") == "true" }

    public static var isConfigured: Bool {
        environment("ENGRAM_DATABASE_URL") != nil || environment("PGHOST") != nil
    }

    public static var shouldRun: Bool { isCI || isConfigured }

    static func environment(_ name: String) -> String? {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        return String(cString: value)
    }
}
