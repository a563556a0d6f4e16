#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under `$TMPDIR` (or /tmp), removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "engram-test") {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = made.map { String(cString: $0) } ?? "\(base)/\(label)-fallback"
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func remove() {
        _ = system("rm -rf '\(path)'")
    }

    /// Writes raw bytes to `name` in this directory.
    public func write(_ bytes: [UInt8], to name: String) { Self.writeFile(file(name), bytes) }

    /// The bytes of `name` in this directory (empty if unreadable).
    public func read(_ name: String) -> [UInt8] { Self.readFile(file(name)) }
}

extension TemporaryDirectory {
    /// The bytes of the file at `path` (empty if unreadable).
    public static func readFile(_ path: String) -> [UInt8] {
        guard let f = fopen(path, "rb") else { return [] }
        defer { fclose(f) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Replaces the file at `path` with `bytes`.
    public static func writeFile(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        bytes.withUnsafeBytes { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}

/// Lists the files of a directory.
public enum TemporaryDirectoryList {
    public static func files(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var out = [String]()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { out.append("\(path)/\(name)") }
        }
        return out.sorted()
    }
}
