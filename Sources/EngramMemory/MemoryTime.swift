/// A point in time as memory keeps it: microseconds since the Unix epoch
/// (UTC), the resolution of PostgreSQL's `timestamptz` and of metadata
/// timestamps.
public struct MemoryTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }

    public init(seconds: Double) { microseconds = Int64((seconds * 1_000_000).rounded()) }

    public static let zero = MemoryTime(microseconds: 0)

    public static func < (a: MemoryTime, b: MemoryTime) -> Bool { a.microseconds < b.microseconds }

    public var seconds: Double { Double(microseconds) / 1_000_000 }

    public func adding(seconds: Double) -> MemoryTime { MemoryTime(microseconds: microseconds &+ Int64((seconds * 1_000_000).rounded())) }

    /// The current time (the clock of the machine).
    public static func now() -> MemoryTime {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return MemoryTime(microseconds: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)
    }

    public var description: String { ISO8601.format(self) }
}

#if canImport(Glibc)
import Glibc
#endif
