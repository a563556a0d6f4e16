/// Where checkpoints go: implemented by the PostgreSQL module
/// (`PostgresCheckpointTarget`). The engine decides what a checkpoint holds
/// and when the log may drop what it covers; a target only stores it.
public protocol CheckpointTarget: Sendable {
    /// The target's last checkpoint and owner (read before every checkpoint:
    /// the engine refuses a target that another store owns, and one that is
    /// ahead of it).
    func state() throws -> CheckpointTargetState
    /// Stores every change of `checkpoint` and records its LSN, atomically:
    /// after a failure, the target is as it was. Refuses (throws) unless the
    /// target is still at `checkpoint.since` and owned by no store or by
    /// `checkpoint.storeID`.
    func commit(_ checkpoint: Checkpoint) throws -> CheckpointCommitResult
}
