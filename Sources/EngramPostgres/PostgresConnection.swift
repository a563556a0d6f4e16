import CLibPQ

#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection. The rest of the engine talks to PostgreSQL through
/// this type and never touches C.
///
/// Statements are ``PostgresQuery`` values: what is interpolated goes as a
/// bind parameter, never into SQL text, and identifiers that cannot be
/// parameters are ``PostgresIdentifier``s.
///
/// Concurrency: a connection serves one statement at a time. It is not
/// `Sendable`; a pool hands connections to one task at a time.
public final class PostgresConnection {
    let handle: OpaquePointer

    /// Seconds a connection attempt may take unless the connection string or
    /// `PGCONNECT_TIMEOUT` says otherwise (libpq's own default is to wait forever).
    public static let defaultConnectTimeoutSeconds = 10

    /// Connects (blocking) with a libpq connection string or URL.
    public init(_ configuration: PostgresConfiguration = .fromEnvironment()) throws(PostgresError) {
        // The default timeout first: a connect_timeout in the string (expanded from dbname) overrides it.
        let timeout = getenv("PGCONNECT_TIMEOUT") == nil ? String(Self.defaultConnectTimeoutSeconds) : nil
        let keys: [String] = (timeout == nil ? [] : ["connect_timeout"]) + ["dbname"]
        let values: [String] = (timeout.map { [$0] } ?? []) + [configuration.connectionString]
        var keyPointers: [UnsafePointer<CChar>?] = keys.map { UnsafePointer(strdup($0)) } + [nil]
        var valuePointers: [UnsafePointer<CChar>?] = values.map { UnsafePointer(strdup($0)) } + [nil]
        defer {
            for p in keyPointers { free(UnsafeMutablePointer(mutating: p)) }
            for p in valuePointers { free(UnsafeMutablePointer(mutating: p)) }
        }
        guard let handle = PQconnectdbParams(&keyPointers, &valuePointers, 1) else {
            throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(handle))
            PQfinish(handle)
            throw PostgresError(kind: .connection, message: message)
        }
        self.handle = handle
        PQsetNoticeProcessor(handle, { _, _ in }, nil)  // NOTICEs ("already exists, skipping") are not errors: drop them
    }

    deinit { PQfinish(handle) }

    /// Whether the connection is still up as far as libpq knows (no round trip).
    public var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The server's version number (e.g. 180006 for 18.6).
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// Runs one statement with its bind parameters and returns its rows.
    @discardableResult
    public func execute(_ query: PostgresQuery, resultFormat: PostgresFormat = .text) throws(PostgresError) -> PostgresResult {
        let parameters = query.binds
        // libpq wants parallel C arrays of pointers, lengths and formats; keep the
        // bytes alive in Swift arrays for the duration of the call.
        let payloads: [[UInt8]?] = parameters.map {
            switch $0 {
            case .null: return nil
            case .text(let s): return Array(s.utf8) + [0]
            case .binary(let b): return b
            }
        }
        let lengths = parameters.map { value -> Int32 in
            if case .binary(let b) = value { return Int32(b.count) }
            return 0
        }
        let formats = parameters.map { value -> Int32 in
            if case .binary = value { return 1 }
            return 0
        }
        let result: OpaquePointer? = withPointers(payloads) { pointers in
            PQexecParams(handle, query.sql, Int32(parameters.count), nil, pointers, lengths, formats, resultFormat.rawValue)
        }
        guard let result else {
            throw PostgresError(kind: .connection, message: String(cString: PQerrorMessage(handle)))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return PostgresResult(result)
        default:
            throw Self.error(from: result, handle: handle)
        }
    }
}

/// Calls `body` with C pointers to each payload (nil for NULL), valid during the call.
private func withPointers<R>(
    _ payloads: [[UInt8]?], _ body: ([UnsafePointer<CChar>?]) -> R
) -> R {
    var pointers = [UnsafePointer<CChar>?]()
    var buffers = [UnsafeMutablePointer<UInt8>]()
    defer { buffers.forEach { $0.deallocate() } }
    for payload in payloads {
        guard let payload else { pointers.append(nil); continue }
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: Swift.max(1, payload.count))
        buffer.initialize(from: payload, count: payload.count)
        buffers.append(buffer)
        pointers.append(UnsafeRawPointer(buffer).assumingMemoryBound(to: CChar.self))
    }
    return body(pointers)
}
