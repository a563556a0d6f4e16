/// Writes `.fvecs`, `.ivecs`, `.fbin` and `.ibin` files (``DatasetFormat``),
/// byte-compatible with the TEXMEX and BigANN tools and with
/// `shared/harness/datasets.py`.
///
/// A file is written to `path.tmp` and renamed over `path` when complete,
/// so a reader never sees half a file.
public enum DatasetWriter {
    public static func write(_ matrix: FloatMatrix, to path: String) throws(DatasetError) {
        let format = try DatasetReader.format(of: path, floats: true)
        try write(matrix, format: format, to: path)
    }

    public static func write(_ matrix: Int32Matrix, to path: String) throws(DatasetError) {
        let format = try DatasetReader.format(of: path, floats: false)
        try write(matrix, format: format, to: path)
    }

    static func write<T: BitwiseCopyable & Sendable & Equatable>(
        _ matrix: Matrix<T>, format: DatasetFormat, to path: String
    ) throws(DatasetError) {
        guard matrix.columns >= 1 || matrix.rows == 0 else {
            throw DatasetError(kind: .invalidArgument, path: path, reason: "rows of zero columns cannot be written")
        }
        guard matrix.rows <= Int(Int32.max), matrix.columns <= DatasetReader.maxColumns else {
            throw DatasetError(kind: .invalidArgument, path: path,
                               reason: "\(matrix.rows) × \(matrix.columns) exceeds the format's limits")
        }
        let temporary = path + ".tmp"
        do {
            let file = try PosixFile.createForWriting(temporary)
            let capacity = 1 << 22
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            defer { buffer.deallocate() }
            var used = 0
            func put(_ value: UInt32) throws(DatasetError) {
                if used == capacity {
                    try file.write(buffer, count: used)
                    used = 0
                }
                buffer.storeBytes(of: value.littleEndian, toByteOffset: used, as: UInt32.self)
                used += 4
            }
            if !format.hasRowHeaders {
                try put(UInt32(truncatingIfNeeded: matrix.rows))
                try put(UInt32(truncatingIfNeeded: matrix.columns))
            }
            for r in 0..<matrix.rows {
                if format.hasRowHeaders { try put(UInt32(truncatingIfNeeded: matrix.columns)) }
                for value in matrix.row(r) { try put(unsafeBitCast(value, to: UInt32.self)) }
            }
            if used > 0 { try file.write(buffer, count: used) }
        }
        guard rename(temporary, path) == 0 else { throw PosixFile.ioError(path, "cannot rename \(temporary) into place") }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
