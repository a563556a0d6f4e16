#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors of the in-memory indexes.
///
/// Every case but one is a caller error (bad input or bad parameters): the
/// indexes do no I/O, so they have no I/O or corruption errors. The one
/// exception is ``vectorMemoryUnavailable(bytes:errno:)``: the caller's
/// ``VectorMemory`` (a mapped file) could not provide room for the vectors,
/// a resource failure the caller reports as such. The message names the
/// problem and the values involved, never the vector's contents.
public enum IndexError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The index was asked for a dimension outside `1...maxDimension`.
    case invalidDimension(Int)
    /// A vector (or query) has `actual` components; the index holds `expected`.
    case dimensionMismatch(expected: Int, actual: Int)
    /// Component `component` of a vector is NaN or ±∞ (`row` is its position in a batch).
    case nonFiniteValue(row: Int, component: Int)
    /// A zero vector under cosine, which has no direction.
    case zeroVector(row: Int)
    /// The vector's squared length overflows `Float` (cosine normalisation).
    case vectorTooLarge(row: Int)
    /// `k` must be in `1...maxK`.
    case invalidK(Int, maxK: Int)
    /// An id that is not in the index.
    case unknownID(UInt32)
    /// A batch names the same id twice.
    case duplicateID(UInt32)
    /// The index would exceed its maximum number of vectors.
    case capacityExceeded(limit: Int)
    /// A batch of flat floats whose length is not a multiple of the dimension.
    case raggedBatch(floats: Int, dimension: Int)
    /// A parameter outside its valid range.
    case invalidParameter(IndexParameter, value: Int)
    /// An IVF index must be trained before vectors are added or searched.
    case notTrained
    /// An IVF index retrains one at a time.
    case retrainingInProgress
    /// HNSW-SQ8 trains its ranges on the vectors the index holds: there are none.
    case nothingToQuantize
    /// The index's ``VectorMemory`` could not provide `bytes` bytes for the
    /// vectors (`errno`: why, such as `ENOSPC` for a file on a full disk).
    /// Nothing was changed by the call that needed them.
    case vectorMemoryUnavailable(bytes: Int, errno: Int32)

    public var description: String {
        switch self {
        case .invalidDimension(let d):
            return "invalid dimension \(d): must be between 1 and \(VectorStorage.maxDimension)"
        case .dimensionMismatch(let expected, let actual):
            return "dimension mismatch: the index holds \(expected)-dimensional vectors, got \(actual)"
        case .nonFiniteValue(let row, let component):
            return "vector \(row) has a NaN or infinite value at component \(component)"
        case .zeroVector(let row):
            return "vector \(row) is all zeros, which has no direction under cosine"
        case .vectorTooLarge(let row):
            return "vector \(row) is too large to normalise: its squared length overflows Float"
        case .invalidK(let k, let maxK):
            return "invalid k \(k): must be between 1 and \(maxK)"
        case .unknownID(let id):
            return "unknown id \(id)"
        case .duplicateID(let id):
            return "id \(id) appears twice in one batch"
        case .capacityExceeded(let limit):
            return "the index is full: at most \(limit) vectors"
        case .raggedBatch(let floats, let dimension):
            return "a batch of \(floats) floats is not a whole number of \(dimension)-dimensional vectors"
        case .invalidParameter(let parameter, let value):
            return "invalid \(parameter.rawValue) \(value): expected \(parameter.validRange)"
        case .nothingToQuantize:
            return "the index holds no vector to train SQ8 ranges on: add vectors before quantising"
        case .retrainingInProgress:
            return "the IVF index is already retraining: wait for it to finish"
        case .notTrained:
            return "the IVF index is not trained yet: train it on a sample of vectors first"
        case .vectorMemoryUnavailable(let bytes, let code):
            return "could not provide \(bytes) bytes for the vectors: \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}

/// The tunable parameters an index validates.
///
/// (An enum, not a string, so that ``IndexError`` holds no reference-counted
/// payload: Swift Testing 6.3's typed-throw hook has been seen to release such
/// payloads twice when errors cross generic `throws(E)` closures.)
public enum IndexParameter: String, Sendable {
    case m = "M"
    case efConstruction
    case efSearch
    case threads
    /// k-means: the number of clusters (at least 1, at most the training points).
    case clusters
    case iterations
    case pointsPerCentroid
    /// IVF: inverted lists (at least 1) and lists probed per search (1...nlist).
    case nlist
    case nprobe
    /// IVF-SQ8: candidates re-ranked with full-precision vectors (0...maxK).
    case rerank

    /// The valid values, in words.
    public var validRange: String {
        switch self {
        case .m: return "2...128"
        case .efConstruction: return "M...100000"
        case .efSearch: return "1...100000"
        case .threads: return "1...256"
        case .clusters: return "1...the number of training vectors"
        case .iterations: return "1...1000"
        case .pointsPerCentroid: return "1...100000"
        case .nlist: return "1...1000000, at most the training vectors"
        case .nprobe: return "1...nlist"
        case .rerank: return "0...\(SearchLimits.maxK)"
        }
    }
}
