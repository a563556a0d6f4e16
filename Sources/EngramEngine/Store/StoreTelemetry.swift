import EngramSync
import Logging
import Metrics

/// What the store reports about itself, through swift-log and swift-metrics
/// so that an application plugs in any backend. The library never prints.
///
/// Metrics (labels fixed; the application's factory decides where they go):
///
/// | label | kind | what |
/// |---|---|---|
/// | `engram_upserts_total` | counter | records upserted (acknowledged) |
/// | `engram_deletes_total` | counter | records deleted |
/// | `engram_searches_total` | counter | searches answered |
/// | `engram_wal_bytes_total` | counter | payload bytes appended to the log |
/// | `engram_upsert_duration` | timer | an upsert call: validate, log (incl. fsync), apply |
/// | `engram_search_duration` | timer | a search call |
/// | `engram_recovery_duration` | timer | opening the store: snapshot load and log replay |
///
/// Logs: recovery (snapshot loaded, records replayed, a torn log tail cut),
/// snapshots written, and operations slower than `slowOperationNanoseconds`
/// (warning).
struct StoreTelemetry: Sendable {
    let logger: Logger
    let upserts: Counter
    let deletes: Counter
    let searches: Counter
    let walBytes: Counter
    let upsertDuration: Metrics.Timer
    let searchDuration: Metrics.Timer
    let recoveryDuration: Metrics.Timer
    let slowOperationNanoseconds: Int64 = 250_000_000

    init(logger: Logger, factory: MetricsFactory?) {
        self.logger = logger
        let f = factory ?? MetricsSystem.factory
        upserts = Counter(label: "engram_upserts_total", dimensions: [], factory: f)
        deletes = Counter(label: "engram_deletes_total", dimensions: [], factory: f)
        searches = Counter(label: "engram_searches_total", dimensions: [], factory: f)
        walBytes = Counter(label: "engram_wal_bytes_total", dimensions: [], factory: f)
        upsertDuration = Metrics.Timer(label: "engram_upsert_duration", dimensions: [], factory: f)
        searchDuration = Metrics.Timer(label: "engram_search_duration", dimensions: [], factory: f)
        recoveryDuration = Metrics.Timer(label: "engram_recovery_duration", dimensions: [], factory: f)
    }

    func slow(_ operation: String, nanoseconds: Int64, _ detail: @autoclosure () -> String) {
        if nanoseconds >= slowOperationNanoseconds {
            logger.warning("slow \(operation)", metadata: ["ms": "\(nanoseconds / 1_000_000)", "detail": "\(detail())"])
        }
    }
}

/// Monotonic nanoseconds for the store's timers (signed, for differences).
func engineNanoseconds() -> Int64 {
    Int64(truncatingIfNeeded: MonotonicClock.nanoseconds())
}
