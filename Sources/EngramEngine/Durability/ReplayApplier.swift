import EngramMetadata
import Dispatch
import EngramSync

/// Applies replayed log records on a second thread while the opening thread
/// reads, checks (CRC-32C, LZ4), decodes and prepares the next ones, so the
/// two halves of replay overlap on two cores (Docs/ENGINE.md, "Recovery").
///
/// Invariants:
/// - Items are applied one at a time, in the order submitted, which is LSN
///   order: memory changes exactly as the log says.
/// - At most `depth` items wait; ``submit(_:)`` blocks while that many do,
///   so decoded batches never pile up in memory.
/// - After ``finish()`` returns, every submitted item is applied and the
///   applying thread has stopped.
///
/// The vectors do not travel: the opening thread prepares them straight
/// into the staging blocks they end in (``ReplayBlockWriter``), and an item
/// says which blocks hold its rows. The metadata travels encoded and is
/// decoded here while this thread keeps up, or is decoded by the opening
/// thread while this one is behind (``isBehind``): the two threads' work
/// evens out whichever is slower on a given log.
///
/// A record whose metadata does not decode, or whose texts the collection
/// cannot hold, is corruption: it and every
/// later item are not applied, and ``failure`` says so after ``finish()``
/// (the open then fails, and its half-built state is dropped).
final class ReplayApplier: @unchecked Sendable {
    /// An upsert's metadata: still encoded, or decoded (and checked) already.
    enum Metadata: Sendable {
        case encoded(LogPayload.EncodedMetadata)
        case decoded([MetadataValue])
    }

    enum Item: Sendable {
        /// `texts`: each record's texts (empty: the batch carries none), turned into terms here.
        case upsert(Collection, ids: [String], metadata: Metadata, texts: [[String: String]], placed: [(block: StagingBuffer.Block, rows: Int)], lsn: UInt64)
        case delete(Collection, ids: [String], lsn: UInt64)
    }

    private let depth: Int
    /// Guards `waiting`, `head` and `finishing`; broadcast whenever one changes.
    private let changed = ConditionLock()
    private var waiting: [Item?] = []
    private var head = 0
    private var finishing = false
    /// Time the applying thread spent applying (read after ``finish()``).
    private(set) var applyNanoseconds: Int64 = 0
    /// The first logged record that failed to decode (read after ``finish()``).
    private(set) var failure: EngineError?
    private let stopped = DispatchSemaphore(value: 0)

    init(depth: Int = 8) {
        self.depth = depth
        DispatchQueue.global(qos: .userInitiated).async { [self] in run() }
    }

    /// Two items or more are waiting: the applying thread is the slower one.
    var isBehind: Bool {
        changed.withLock { waiting.count - head >= 2 }
    }

    /// Queues `item` behind every item submitted before it.
    func submit(_ item: Item) {
        changed.withLock {
            while waiting.count - head >= depth { changed.wait() }
            waiting.append(item)
            changed.broadcast()
        }
    }

    /// Waits until every submitted item is applied; stops the applying thread.
    func finish() {
        changed.withLock {
            finishing = true
            changed.broadcast()
        }
        stopped.wait()
    }

    private func run() {
        while let item = next() {
            guard failure == nil else { continue }
            let start = engineNanoseconds()
            switch item {
            case .upsert(let collection, let ids, let metadata, let texts, let placed, let lsn):
                do throws(EngineError) {
                    let values: [MetadataValue]
                    switch metadata {
                    case .decoded(let decoded): values = decoded
                    case .encoded(let encoded): values = try encoded.decoded(loggedAt: lsn)
                    }
                    let terms = try collection.loggedTerms(texts, lsn: lsn)
                    collection.apply(ids: ids, metadata: values, texts: texts, terms: terms, placed: placed, lsn: lsn)
                } catch {
                    failure = error
                }
            case .delete(let collection, let ids, let lsn):
                collection.apply(delete: ids, lsn: lsn)
            }
            applyNanoseconds += engineNanoseconds() - start
        }
        stopped.signal()
    }

    /// The next item to apply, waiting for one; nil once finishing and drained.
    private func next() -> Item? {
        changed.withLock { () -> Item? in
            while head == waiting.count && !finishing { changed.wait() }
            guard head < waiting.count, let item = waiting[head] else { return nil }
            waiting[head] = nil
            head += 1
            if head >= 64 && head * 2 >= waiting.count {  // drop the consumed prefix now and then
                waiting.removeFirst(head)
                head = 0
            }
            changed.broadcast()
            return item
        }
    }
}
