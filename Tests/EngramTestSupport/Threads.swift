#if canImport(Glibc)
import Glibc
#endif

/// Runs `body(i)` for i in 0..<count, each on its own OS thread (unlike
/// `concurrentPerform`, which runs at most one per core), and waits for all.
public func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Box: @unchecked Sendable {
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) { self.body = body; self.index = index }
    }
    var threads = [pthread_t]()
    for i in 0..<count {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(body, i)).toOpaque()
        pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body(box.index)
            return nil
        }, box)
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}
