import EngramEngine
import EngramTools

#if canImport(Glibc)
import Glibc
#endif

/// The committed golden files (`Fixtures/golden/`): one file (or data
/// directory) per on-disk format version the code still reads, written once
/// by the code of its time and never rewritten. Each module's
/// `GoldenFileTests` loads them and checks every value, so a change that
/// stops the code reading an old format fails here, not at a user's.
///
/// `ENGRAM_WRITE_GOLDEN=1 swift test --filter GoldenFileTests/write` writes
/// a missing golden file (never one that exists): for a new format version.
public enum GoldenFiles {
    public static var directory: String { "\(RepositoryPaths.root)/Fixtures/golden" }

    /// Whether this run writes missing golden files.
    public static var writing: Bool { getenv("ENGRAM_WRITE_GOLDEN").map { String(cString: $0) == "1" } ?? false }

    public static func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// Whether `name` exists in the golden folder.
    public static func exists(_ name: String) -> Bool { access(path(name), F_OK) == 0 }

    /// The bytes of a golden file, or nil.
    public static func read(_ name: String) -> [UInt8]? { readBytes(path(name)) }

    /// A file's text (UTF-8), or nil.
    public static func readFile(_ path: String) -> String? { readBytes(path).map { String(decoding: $0, as: UTF8.self) } }

    /// A file's bytes, or nil.
    public static func readBytes(_ path: String) -> [UInt8]? { readWholeFile(path) }

    /// Writes `bytes` as golden file `name` (its folder must exist) unless it exists; true if written.
    @discardableResult
    public static func writeIfMissing(_ name: String, _ bytes: [UInt8]) -> Bool {
        guard !exists(name), let f = fopen(path(name), "wb") else { return false }
        defer { fclose(f) }
        return fwrite(bytes, 1, bytes.count, f) == bytes.count
    }

    /// Copies the golden folder `name`, subfolders included, into `destination` (a new directory).
    public static func copyDirectory(_ name: String, to destination: String) -> Bool {
        guard mkdir(destination, 0o700) == 0 || errno == EEXIST, let dir = opendir(path(name)) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let file = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard file != ".", file != ".." else { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) {
                guard copyDirectory("\(name)/\(file)", to: "\(destination)/\(file)") else { return false }
                continue
            }
            guard let bytes = read("\(name)/\(file)"), let out = fopen("\(destination)/\(file)", "wb") else { return false }
            let ok = fwrite(bytes, 1, bytes.count, out) == bytes.count
            fclose(out)
            if !ok { return false }
        }
        return true
    }

    /// The golden vector of record `i` (dimension `d`): finite, exact in
    /// float32, distinct for every `i` (the first component is i/64).
    public static func vector(_ i: Int, dimension d: Int) -> [Float] {
        [Float(i) / 64] + (1..<max(d, 1)).map { Float((i * 37 + $0 * 11 + i * $0 * 3) % 257) / 16 - 8 }
    }
}

extension GoldenFiles {
    /// How a golden data directory is written: every write fsynced, no background indexing or
    /// snapshots (each moment chosen by the writer), 1 MiB log segments.
    public static var storeWriterOptions: StoreOptions {
        var options = StoreOptions(durability: .fsync)
        options.backgroundIndexing = false
        options.snapshotEveryLogBytes = 0
        options.segmentBytes = 1 << 20
        return options
    }
}
