/// What a checkpoint target holds now: the LSN of its last checkpoint and
/// the store whose checkpoints it takes.
public struct CheckpointTargetState: Sendable, Equatable {
    /// The LSN of the last checkpoint committed to the target, 0 if none.
    public var lsn: UInt64
    /// The id of the store whose checkpoints the target takes, nil before the first.
    public var owner: String?

    public init(lsn: UInt64, owner: String?) {
        self.lsn = lsn
        self.owner = owner
    }
}
