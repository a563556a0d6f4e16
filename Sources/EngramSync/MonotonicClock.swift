#if canImport(Glibc)
import Glibc
#endif

/// Time from `CLOCK_MONOTONIC`: for durations, deadlines and latencies,
/// never for dates. One vDSO call, no allocation.
package enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point (boot).
    @inline(__always)
    package static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(truncatingIfNeeded: ts.tv_sec) &* 1_000_000_000 &+ UInt64(truncatingIfNeeded: ts.tv_nsec)
    }

    /// Seconds since the same point.
    package static func seconds() -> Double {
        Double(nanoseconds()) / 1e9
    }

    /// Seconds elapsed since `start` (a ``nanoseconds()`` reading).
    package static func seconds(since start: UInt64) -> Double {
        Double(nanoseconds() &- start) / 1e9
    }
}
