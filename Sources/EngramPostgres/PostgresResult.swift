import CLibPQ

/// The rows of a completed statement, copied out of libpq's result so it
/// outlives it.
///
/// Invariant: `cells.count == rowCount * columnNames.count`; a `nil` cell is SQL NULL.
public struct PostgresResult: Sendable {
    public let columnNames: [String]
    public let rowCount: Int
    /// The command tag's affected-row count (`INSERT 0 3` → 3), if any.
    public let affectedRows: Int?
    let cells: [[UInt8]?]

    init(_ result: OpaquePointer) {
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        columnNames = (0..<columns).map { String(cString: PQfname(result, Int32($0))) }
        rowCount = rows
        affectedRows = Int(String(cString: PQcmdTuples(result)))
        var cells = [[UInt8]?]()
        cells.reserveCapacity(rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    cells.append(nil)
                } else {
                    let length = Int(PQgetlength(result, Int32(r), Int32(c)))
                    let start = PQgetvalue(result, Int32(r), Int32(c))!
                    cells.append(start.withMemoryRebound(to: UInt8.self, capacity: length) {
                        Array(UnsafeBufferPointer(start: $0, count: length))
                    })
                }
            }
        }
        self.cells = cells
    }

    /// The raw bytes of a cell (text or binary, as the query asked); `nil` for NULL.
    public func bytes(row: Int, column: Int) -> [UInt8]? {
        cells[row * columnNames.count + column]
    }

    /// A cell in text form; `nil` for NULL.
    public func text(row: Int, column: Int) -> String? {
        bytes(row: row, column: column).map { String(decoding: $0, as: UTF8.self) }
    }
}
