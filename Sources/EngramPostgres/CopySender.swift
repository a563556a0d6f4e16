import CLibPQ
import Dispatch

/// Sends the chunks of a `COPY ... FROM STDIN` on a thread of its own, so
/// that the caller builds the next chunk while the server takes this one:
/// building rows (byte order, JSON) and the server's parsing overlap on two
/// cores instead of taking turns (Docs/POSTGRES.md, "Checkpoints").
///
/// Invariants:
/// - Chunks reach the server whole and in the order they were queued.
/// - At most `depth` chunks wait; ``queue(_:)`` blocks while that many do,
///   so a fast producer never holds more than `depth` chunks in memory.
/// - While the sender runs, only its thread touches the connection; the
///   caller touches it again only after ``finish()`` returns.
/// - After the first failed send nothing more is sent: ``queue(_:)`` and
///   ``finish()`` report that failure.
final class CopySender: @unchecked Sendable {
    private let handle: OpaquePointer
    private let free: DispatchSemaphore
    private let ready = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    private let lock = DispatchSemaphore(value: 1)
    private var waiting: [[UInt8]?] = []  // guarded by `lock`; nil ends the stream
    private var failure: PostgresError?   // guarded by `lock`

    init(handle: OpaquePointer, depth: Int = 3) {
        self.handle = handle
        free = DispatchSemaphore(value: depth)
        DispatchQueue.global(qos: .userInitiated).async { [self] in run() }
    }

    /// Queues `chunk` behind the ones before it; throws once a send failed.
    func queue(_ chunk: [UInt8]) throws(PostgresError) {
        if let failure = locked({ failure }) { throw failure }
        free.wait()
        locked { waiting.append(chunk) }
        ready.signal()
    }

    /// Waits until every queued chunk is sent; stops the thread. Throws the
    /// first failed send, if any.
    func finish() throws(PostgresError) {
        locked { waiting.append(nil) }
        ready.signal()
        stopped.wait()
        if let failure = locked({ failure }) { throw failure }
    }

    private func run() {
        while true {
            ready.wait()
            guard let chunk = locked({ waiting.removeFirst() }) else {
                stopped.signal()
                return
            }
            if locked({ failure }) == nil {
                let sent = chunk.withUnsafeBytes { raw in
                    PQputCopyData(handle, raw.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(raw.count))
                }
                if sent != 1 {
                    let error = PostgresError(kind: .connection, message: String(cString: PQerrorMessage(handle)))
                    locked { failure = error }
                }
            }
            free.signal()
        }
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.wait()
        defer { lock.signal() }
        return body()
    }
}
