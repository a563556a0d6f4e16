/// The precision a collection's durable store (the checkpoint target) keeps
/// its vectors at (``CollectionConfiguration/storedPrecision``).
public enum StoredPrecision: String, Sendable, CaseIterable {
    /// 32-bit floats, as the engine holds them (pgvector's `vector`).
    case float32
    /// 16-bit floats (pgvector's `halfvec`): half the storage, values rounded
    /// to 11 significant bits and limited to ±65,504.
    case float16

    /// Why `value` cannot be stored at this precision, or nil.
    func problem(_ value: Float) -> String? {
        guard self == .float16, !Float16(value).isFinite else { return nil }
        return "value \(value) is beyond half precision's range (±65504), which this collection's durable store holds"
    }
}
