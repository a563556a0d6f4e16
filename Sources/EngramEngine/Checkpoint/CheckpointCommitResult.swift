/// What a target did with a checkpoint beyond storing its changes.
public struct CheckpointCommitResult: Sendable, Equatable {
    /// Rows removed because the engine no longer holds their ids (a
    /// resynchronising checkpoint; 0 otherwise).
    public var resynchronisedDeletes: Int

    public init(resynchronisedDeletes: Int = 0) {
        self.resynchronisedDeletes = resynchronisedDeletes
    }
}
