#if canImport(Glibc)
import Glibc
#endif

/// A dataset folder's `meta.json`, as `shared/harness` writes it beside the
/// vector files (sizes, recipe, `metric`, checksums).
public enum DatasetMeta {
    /// The text of `<directory>/meta.json`, or nil if the folder has none.
    /// At most 1 MiB: it describes the files, it does not hold them.
    public static func text(inDirectory directory: String) throws(DatasetError) -> String? {
        let path = (directory.hasSuffix("/") ? String(directory.dropLast()) : directory) + "/meta.json"
        guard access(path, F_OK) == 0 else { return nil }
        let file = try PosixFile.openForReading(path)
        let size = try file.size()
        guard size <= 1 << 20 else {
            throw DatasetError(kind: .invalidArgument, path: path, reason: "\(size) bytes: too large for a dataset description")
        }
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
        defer { bytes.deallocate() }
        if size > 0 { try file.read(into: bytes.baseAddress!, count: size, at: 0) }
        return String(decoding: UnsafeRawBufferPointer(bytes), as: UTF8.self)
    }
}
