#if canImport(Glibc)
import Glibc
#endif

/// The whole file, or nil (errno set): for the command line's small inputs (id lists, retrieval sets).
package func readWholeFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n > 0 { out += chunk[0..<n] }
        if n < chunk.count { return ferror(f) != 0 ? nil : out }
    }
}
