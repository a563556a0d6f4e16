import EngramKernels

/// A query copied into an aligned buffer of `stride` floats
/// and prepared like a stored vector (validated, normalised under cosine).
final class QueryBuffer {
    let pointer: UnsafeMutablePointer<Float>

    init(stride: Int) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: stride * MemoryLayout<Float>.size, alignment: 64)
        pointer = raw.initializeMemory(as: Float.self, repeating: 0, count: stride)
    }

    deinit { pointer.deallocate() }
}

/// A pointer handed to worker threads that write disjoint elements.
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

/// The number of processors this process may use.
enum ProcessInfoCores {
    static var active: Int {
        #if canImport(Glibc)
        return Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#endif
