/// Where a task stands. The allowed moves (Docs/MEMORY.md, "Tasks"):
///
///     pending ──▶ running ──▶ succeeded
///        │           ├──────▶ failed
///        └───────────┴──────▶ cancelled
///
/// `succeeded`, `failed` and `cancelled` are final: nothing leaves them.
public enum TaskStatus: String, Sendable, CaseIterable {
    case pending, running, succeeded, failed, cancelled

    /// Whether a task may move from this status to `next`.
    public func allows(_ next: TaskStatus) -> Bool {
        switch (self, next) {
        case (.pending, .running), (.pending, .cancelled): return true
        case (.running, .succeeded), (.running, .failed), (.running, .cancelled): return true
        default: return false
        }
    }

    public var isFinal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}
