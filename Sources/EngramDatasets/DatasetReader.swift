/// Reads `.fvecs`, `.ivecs`, `.fbin` and `.ibin` files (``DatasetFormat``).
///
/// A file is checked before its rows are used: the size must be a whole
/// number of rows, and every TEXMEX row header must repeat the first one. A
/// truncated or inconsistent file gives a ``DatasetError`` of kind
/// `.corrupt` naming the file and the byte offset, never a crash.
public enum DatasetReader {
    /// The largest dimension (row width) accepted in a file header.
    public static let maxColumns = 1 << 20

    /// Reads a float file (`.fvecs` or `.fbin`), at most `limit` rows.
    public static func readFloats(_ path: String, limit: Int? = nil) throws(DatasetError) -> FloatMatrix {
        let format = try format(of: path, floats: true)
        return try read(path, format: format, limit: limit, as: Float.self)
    }

    /// Reads an integer file (`.ivecs` or `.ibin`), at most `limit` rows.
    public static func readInt32s(_ path: String, limit: Int? = nil) throws(DatasetError) -> Int32Matrix {
        let format = try format(of: path, floats: false)
        return try read(path, format: format, limit: limit, as: Int32.self)
    }

    static func format(of path: String, floats: Bool) throws(DatasetError) -> DatasetFormat {
        guard let format = DatasetFormat(path: path) else {
            throw DatasetError(kind: .invalidArgument, path: path,
                               reason: "unknown extension: expected .fvecs, .ivecs, .fbin or .ibin")
        }
        guard format.holdsFloats == floats else {
            throw DatasetError(kind: .invalidArgument, path: path,
                               reason: "expected a \(floats ? ".fvecs or .fbin" : ".ivecs or .ibin") file, got .\(format.rawValue)")
        }
        return format
    }

    static func read<T: BitwiseCopyable & Sendable & Equatable>(
        _ path: String, format: DatasetFormat, limit: Int?, as: T.Type
    ) throws(DatasetError) -> Matrix<T> {
        let file = try PosixFile.openForReading(path)
        let size = try file.size()
        return format.hasRowHeaders
            ? try readTexmex(file, size: size, limit: limit)
            : try readBigANN(file, size: size, limit: limit)
    }

    static func readHeaderInt(_ file: PosixFile, at offset: Int) throws(DatasetError) -> Int {
        var raw: Int32 = 0
        try withUnsafeMutableBytes(of: &raw) { (bytes) throws(DatasetError) in
            try file.read(into: bytes.baseAddress!, count: 4, at: offset)
        }
        return Int(Int32(littleEndian: raw))
    }

    static func checkColumns(_ d: Int, _ file: PosixFile, at offset: Int) throws(DatasetError) {
        guard (1...maxColumns).contains(d) else {
            throw DatasetError(kind: .corrupt, path: file.path, offset: offset,
                               reason: "invalid dimension \(d) in header (expected 1...\(maxColumns))")
        }
    }

    static func readTexmex<T: BitwiseCopyable & Sendable & Equatable>(
        _ file: PosixFile, size: Int, limit: Int?
    ) throws(DatasetError) -> Matrix<T> {
        if size == 0 { return Matrix(rows: 0, columns: 0, values: [])! }
        if size < 4 {
            throw DatasetError(kind: .corrupt, path: file.path, offset: 0,
                               reason: "file of \(size) bytes is too short for a row header")
        }
        let d = try readHeaderInt(file, at: 0)
        try checkColumns(d, file, at: 0)
        let rowBytes = 4 + 4 * d
        let wholeRows = size / rowBytes
        if size % rowBytes != 0 {
            throw DatasetError(kind: .corrupt, path: file.path, offset: wholeRows * rowBytes,
                               reason: "truncated row: \(size % rowBytes) bytes left, a \(d)-dimensional row takes \(rowBytes)")
        }
        let rows = Swift.min(wholeRows, Swift.max(0, limit ?? wholeRows))
        var values = [T]()
        values.reserveCapacity(rows * d)
        // Read in chunks of rows; check each row header, keep the values.
        let chunkRows = Swift.max(1, (4 << 20) / rowBytes)
        let chunk = UnsafeMutableRawPointer.allocate(byteCount: chunkRows * rowBytes, alignment: 16)
        defer { chunk.deallocate() }
        var row = 0
        while row < rows {
            let n = Swift.min(chunkRows, rows - row)
            try file.read(into: chunk, count: n * rowBytes, at: row * rowBytes)
            for r in 0..<n {
                let rowStart = chunk + r * rowBytes
                let header = Int(Int32(littleEndian: rowStart.loadUnaligned(as: Int32.self)))
                if header != d {
                    throw DatasetError(kind: .corrupt, path: file.path, offset: (row + r) * rowBytes,
                                       reason: "row \(row + r) has dimension \(header), the first row has \(d)")
                }
                appendLittleEndian(rowStart + 4, count: d, to: &values)
            }
            row += n
        }
        return Matrix(rows: rows, columns: d, values: values)!
    }

    static func readBigANN<T: BitwiseCopyable & Sendable & Equatable>(
        _ file: PosixFile, size: Int, limit: Int?
    ) throws(DatasetError) -> Matrix<T> {
        if size < 8 {
            throw DatasetError(kind: .corrupt, path: file.path, offset: 0,
                               reason: "file of \(size) bytes is too short for the 8-byte header")
        }
        let n = try readHeaderInt(file, at: 0)
        let d = try readHeaderInt(file, at: 4)
        guard n >= 0 else {
            throw DatasetError(kind: .corrupt, path: file.path, offset: 0, reason: "negative row count \(n)")
        }
        try checkColumns(d, file, at: 4)
        let expected = 8 + n * d * 4
        if size != expected {
            throw DatasetError(
                kind: .corrupt, path: file.path, offset: Swift.min(size, expected),
                reason: size < expected
                    ? "truncated: the header promises \(n) × \(d) values (\(expected) bytes), the file has \(size)"
                    : "\(size - expected) trailing bytes after \(n) × \(d) values")
        }
        let rows = Swift.min(n, Swift.max(0, limit ?? n))
        var values = [T]()
        values.reserveCapacity(rows * d)
        let chunkValues = 1 << 20
        let chunk = UnsafeMutableRawPointer.allocate(byteCount: chunkValues * 4, alignment: 16)
        defer { chunk.deallocate() }
        var done = 0
        let total = rows * d
        while done < total {
            let m = Swift.min(chunkValues, total - done)
            try file.read(into: chunk, count: m * 4, at: 8 + done * 4)
            appendLittleEndian(chunk, count: m, to: &values)
            done += m
        }
        return Matrix(rows: rows, columns: d, values: values)!
    }

    /// Appends `count` 4-byte little-endian values from `source`.
    static func appendLittleEndian<T: BitwiseCopyable>(_ source: UnsafeRawPointer, count: Int, to values: inout [T]) {
        precondition(MemoryLayout<T>.size == 4)
        for i in 0..<count {
            let bits = UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            values.append(unsafeBitCast(bits, to: T.self))
        }
    }
}
