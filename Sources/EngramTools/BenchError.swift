import EngramDatasets
import EngramEngine
import EngramIndex

/// Why `engram bench` stopped. User errors (`invalidArgument`,
/// `inconsistentFiles`) are kept apart from file errors (``DatasetError``,
/// which separates I/O from corruption) and index errors.
package enum BenchError: Error, Sendable, CustomStringConvertible {
    case invalidArgument(String)
    /// The files do not fit together (dimensions, counts, ground-truth width).
    case inconsistentFiles(String)
    case dataset(DatasetError)
    case index(IndexError)
    /// Setting up a store or a mapped file for the run failed.
    case engine(EngineError)

    package var description: String {
        switch self {
        case .invalidArgument(let text): return text
        case .inconsistentFiles(let text): return text
        case .dataset(let error): return error.description
        case .index(let error): return error.description
        case .engine(let error): return error.description
        }
    }
}
