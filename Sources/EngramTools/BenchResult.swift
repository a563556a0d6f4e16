import EngramMetadata
import EngramEngine

/// One measured sweep point of `engram bench`: one JSON line with `--json`.
///
/// The keys match `shared/harness` result rows, so both can sit in one table.
public struct BenchResult: Sendable, Equatable {
    public var index: String
    public var params: String
    public var dataset: String
    public var n: Int
    public var dim: Int
    public var metric: String
    public var k: Int
    public var buildThreads: Int
    public var buildSeconds: Double
    public var memoryBytes: Int
    public var searchParam: String
    public var searchValue: Int
    public var recall: Double
    public var nq: Int
    public var qps: Double
    public var latency: LatencySummary

    /// One JSON object, keys in a fixed order.
    public var jsonLine: String {
        var fields: [(String, String)] = [
            ("engine", quoted("engram")), ("index", quoted(index)), ("params", quoted(params)),
            ("dataset", quoted(dataset)), ("n", "\(n)"), ("dim", "\(dim)"), ("metric", quoted(metric)),
            ("k", "\(k)"), ("build_threads", "\(buildThreads)"), ("build_s", number(buildSeconds, 3)),
            ("mem_bytes", "\(memoryBytes)"), ("search_param", quoted(searchParam)),
            ("search_value", "\(searchValue)"),
        ]
        if k == 10 { fields.append(("recall_at_10", number(recall, 4))) }
        fields += [
            ("recall_at_k", number(recall, 4)), ("nq", "\(nq)"), ("qps", number(qps, 1)),
            ("p50_us", number(latency.p50Microseconds, 1)), ("p95_us", number(latency.p95Microseconds, 1)),
            ("p99_us", number(latency.p99Microseconds, 1)), ("mean_us", number(latency.meanMicroseconds, 1)),
        ]
        return "{" + fields.map { "\(quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }
}

/// A JSON string literal (the engine's JSON writer does the escaping).
func quoted(_ text: String) -> String { MetadataJSON.format(.string(text)) }

/// A finite number with at most `decimals` decimals (JSON has no NaN: null).
func number(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "null" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    if rounded == rounded.rounded() && abs(rounded) < 1e15 { return "\(Int(rounded))" }
    return "\(rounded)"
}
