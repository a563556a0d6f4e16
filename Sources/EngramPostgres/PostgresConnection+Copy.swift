import CLibPQ

extension PostgresConnection {
    /// Runs `COPY ... FROM STDIN`: `body` streams the data through `send`
    /// (for `FORMAT binary`, bytes built by ``BinaryCopyWriter``). The copy
    /// ends when `body` returns, or is aborted (nothing stored) when it throws.
    /// Returns the number of rows the server stored.
    ///
    /// `send` queues each chunk for a sending thread (``CopySender``), so
    /// `body` builds the next chunk while the server takes the last one;
    /// `body` must not use the connection itself.
    @discardableResult
    public func copyIn(_ query: PostgresQuery, _ body: (_ send: ([UInt8]) throws(PostgresError) -> Void) throws -> Void) throws(PostgresError) -> Int {
        try startCopy(query, expecting: PGRES_COPY_IN)
        var failure: Error?
        let sender = CopySender(handle: handle)
        do {
            try body { (bytes) throws(PostgresError) in try sender.queue(bytes) }
        } catch {
            failure = error
        }
        do throws(PostgresError) { try sender.finish() } catch { failure = failure ?? error }
        let ended = PQputCopyEnd(handle, failure == nil ? nil : "aborted by the client")
        guard ended == 1 else { throw connectionError() }
        guard let failure else { return try finishCommand() }
        // The server answers the abort with an error of its own (57014); what ended the copy is ours.
        _ = try? finishCommand()
        if let failure = failure as? PostgresError { throw failure }
        throw PostgresError(kind: .aborted, message: "copy aborted by the client: \(failure)")
    }

    /// Runs `COPY ... TO STDOUT`, handing each data message (for `FORMAT
    /// binary`, feed them to ``BinaryCopyReader``) to `body`, in order. The
    /// bytes are valid only during the call.
    /// Errors from `body` are rethrown after the copy is drained.
    public func copyOut(_ query: PostgresQuery, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try startCopy(query, expecting: PGRES_COPY_OUT)
        var failure: Error?
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(handle, &buffer, 0)
            if n > 0, let buffer {
                defer { PQfreemem(buffer) }
                if failure == nil {
                    do { try body(UnsafeRawBufferPointer(start: buffer, count: Int(n))) } catch { failure = error }
                }
            } else if n == -1 {
                _ = try finishCommand()
                if let failure { throw failure }
                return
            } else {
                throw connectionError()
            }
        }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back
    /// when it throws (the error is rethrown).
    public func transaction<R>(_ body: () throws -> R) throws -> R {
        try execute("BEGIN")
        let result: R
        do {
            result = try body()
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
        try execute("COMMIT")
        return result
    }

    private func startCopy(_ query: PostgresQuery, expecting status: ExecStatusType) throws(PostgresError) {
        guard query.binds.isEmpty else {
            throw PostgresError(kind: .invalidArgument, message: "COPY takes no bind parameters: \(query)")
        }
        guard let result = PQexec(handle, query.sql) else { throw connectionError() }
        defer { PQclear(result) }
        guard PQresultStatus(result) == status else { throw Self.error(from: result, handle: handle) }
    }

    /// Collects the final result of a command; returns its affected rows.
    private func finishCommand() throws(PostgresError) -> Int {
        var failure: PostgresError?
        var rows = 0
        while let result = PQgetResult(handle) {
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
            default:
                failure = failure ?? Self.error(from: result, handle: handle)
            }
        }
        if let failure { throw failure }
        return rows
    }

    func connectionError() -> PostgresError {
        PostgresError(kind: .connection, message: String(cString: PQerrorMessage(handle)))
    }

    static func error(from result: OpaquePointer, handle: OpaquePointer) -> PostgresError {
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        let message = String(cString: PQresultErrorMessage(result))
        let broken = PQstatus(handle) != CONNECTION_OK
        return PostgresError(kind: broken ? .connection : .server, sqlState: state, message: message)
    }
}
