#if canImport(Glibc)
import Glibc
#endif

/// Where to connect: a libpq connection string or URL.
///
/// ``fromEnvironment()`` reads `ENGRAM_DATABASE_URL` if set; otherwise the
/// empty string, which makes libpq use the standard `PGHOST`, `PGPORT`,
/// `PGUSER`, `PGDATABASE`, `PGPASSWORD` and `PGSSLMODE` variables.
/// `sslmode` in a URL or `PGSSLMODE` is honoured by libpq itself.
public struct PostgresConfiguration: Sendable, Equatable {
    /// A libpq connection string (`key=value ...`) or URL (`postgresql://...`).
    public var connectionString: String

    public init(connectionString: String) {
        self.connectionString = connectionString
    }

    public static func fromEnvironment() -> PostgresConfiguration {
        if let url = getenv("ENGRAM_DATABASE_URL"), url.pointee != 0 {
            return PostgresConfiguration(connectionString: String(cString: url))
        }
        return PostgresConfiguration(connectionString: "")
    }
}
