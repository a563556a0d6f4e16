#if canImport(Glibc)
import Glibc
#endif

/// Nanoseconds from a monotonic clock (`CLOCK_MONOTONIC`), for latency
/// measurement: one vDSO call, no allocation.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Seconds elapsed since `start` (from ``monotonicNanoseconds()``).
func secondsSince(_ start: UInt64) -> Double {
    Double(monotonicNanoseconds() &- start) / 1e9
}
