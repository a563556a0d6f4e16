#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` every `pollMilliseconds` until it holds or `seconds`
/// have passed; returns whether it held. For work a test hands to a
/// background thread: the bound is generous because CI machines are
/// shared and slow, and no test asserts how long the wait took.
public func eventually(
    within seconds: Int = 60, pollMilliseconds: Int = 10, _ condition: () throws -> Bool
) rethrows -> Bool {
    let polls = Swift.max(1, seconds * 1000 / pollMilliseconds)
    for _ in 0..<polls {
        if try condition() { return true }
        usleep(useconds_t(pollMilliseconds * 1000))
    }
    return try condition()
}
