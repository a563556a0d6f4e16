import EngramWAL

#if canImport(Glibc)
import Glibc
#endif

/// How a store is run. The defaults suit a production store on one machine.
public struct StoreOptions: Sendable {
    /// What an acknowledged write survives (`GroupCommitLog/Mode`):
    /// `.fsync` (default) and `.groupCommit` survive a power loss,
    /// `.osBuffered` a crash of the process only. Concurrent writers share
    /// fsyncs in every mode.
    public var durability: GroupCommitLog.Mode = .fsync
    /// Write a local snapshot in the background once the log has grown by
    /// this many bytes since the last one (bounds recovery time). 0: never
    /// (snapshots are then taken by `Store.snapshot()` and on close).
    public var snapshotEveryLogBytes = 1 << 30
    /// A collection holds at most this many acknowledged vectors that are not
    /// yet in its graph; past it, writers index a block themselves before
    /// logging more (back-pressure), so searches never scan an unbounded buffer.
    public var maxUnindexed = 200_000
    /// Move staged vectors into the graphs in the background. Off, they move
    /// only when writers hit ``maxUnindexed`` or on ``Store/waitUntilIndexed()``
    /// (for tests that need the staging buffer to stay put).
    public var backgroundIndexing = true
    /// Threads the background indexer inserts with (default: every core).
    public var indexThreads = Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    /// Size of one log segment file.
    public var segmentBytes = 64 << 20
    /// Reclaim a graph's deleted nodes once tombstones exceed this fraction
    /// of its live nodes (and at least 1,024 of them). Compaction blocks the
    /// collection's searches while it runs.
    public var compactTombstoneFraction = 0.25
    /// Open a damaged log by cutting it at the first damaged record: the
    /// records after it are lost and the damaged files are kept aside
    /// (`WriteAheadLog/Options/repair`). Off by default: damage is an error.
    public var repair = false
    /// Open without changing a byte of the data directory (`engram search`,
    /// `stats`, `verify`): it must exist; nothing is created, no snapshot is
    /// written, the log is read but not truncated (a torn tail is skipped,
    /// not cut); writes, checkpoints and snapshots throw. Other read-only
    /// opens may share the directory; a writing store may not.
    public var readOnly = false
    /// Set: every HNSW collection keeps its float vectors in a memory-mapped
    /// file in this directory (``MappedVectorMemory``: nameless, unlinked at
    /// once) instead of on the heap. Its graph walks on compact codes and
    /// reads the floats only to build and to re-rank, so the floats can
    /// leave the hot memory: the kernel keeps what it can in the page cache
    /// and reads the rest back. Nil (default): the heap. The directory must
    /// exist; a disk that fills fails the growth that needed the room (an
    /// ``EngineError/Code/io`` error; the staged vectors wait), never a
    /// search. The data directory, or any other, may be given. A read-only
    /// store may use it too; since the file is created (then unlinked at once)
    /// in the directory given, give it another directory than the data
    /// directory when nothing may appear there even for a moment.
    public var mappedFloatsDirectory: String?

    public init(durability: GroupCommitLog.Mode = .fsync) { self.durability = durability }

    /// Where HNSW collections keep their floats (``mappedFloatsDirectory``).
    var vectorPlacement: VectorPlacement { VectorPlacement(mappedDirectory: mappedFloatsDirectory) }

    /// The options of a read-only open (``readOnly``).
    public static var readOnly: StoreOptions {
        var options = StoreOptions()
        options.readOnly = true
        return options
    }
}

extension GroupCommitLog.Mode {
    /// `fsync`, `group-commit` (200 µs window), `group-commit:<µs>`, or `os-buffered`.
    public init?(name: String) {
        switch name {
        case "fsync": self = .fsync
        case "os-buffered", "osBuffered": self = .osBuffered
        case "group-commit": self = .groupCommit(maxDelayMicroseconds: 200)
        default:
            guard name.hasPrefix("group-commit:"), let us = Int(name.dropFirst(13)), (0...1_000_000).contains(us) else {
                return nil
            }
            self = .groupCommit(maxDelayMicroseconds: us)
        }
    }

    public var name: String {
        switch self {
        case .fsync: return "fsync"
        case .osBuffered: return "os-buffered"
        case .groupCommit(let us): return "group-commit:\(us)"
        }
    }
}
