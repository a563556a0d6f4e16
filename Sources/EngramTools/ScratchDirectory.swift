#if canImport(Glibc)
import Glibc
#endif

/// A new, empty directory `/tmp/<prefix>-XXXXXX` for a benchmark's store (the caller removes it).
package func scratchDirectory(_ prefix: String) throws(BenchError) -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw .invalidArgument("cannot create a temporary directory: \(String(cString: strerror(errno)))")
    }
    return String(cString: made)
}
