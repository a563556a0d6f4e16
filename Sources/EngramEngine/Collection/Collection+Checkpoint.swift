import EngramIndex
import EngramMetadata

/// The changes a checkpoint carries, captured while writers are paused.
extension Collection {
    /// The changes above `since`, for a checkpoint; the caller has paused
    /// writers. The vectors are not copied: the rows stay pinned, read while
    /// the target streams them, until ``CheckpointRows/release()``.
    /// With `liveIDs`, also every live id (a resynchronising checkpoint).
    func changes(since: UInt64, liveIDs: Bool = false) -> Checkpoint.Changes {
        var out = Checkpoint.Changes(configuration: configuration)
        let rows = lock.withReadLock { () -> CheckpointRows in
            out.liveCount = labelOfID.count
            if liveIDs { out.liveIDs = labelOfID.keys.map(\.id) }
            // In label order (the live labels are exactly those with an id):
            // the graph's rows are then read front to back.
            var changedLabels = [VectorID]()
            let expected = since == 0 ? labelOfID.count : 0
            changedLabels.reserveCapacity(expected)
            out.ids.reserveCapacity(expected)
            out.lsns.reserveCapacity(expected)
            out.metadata.reserveCapacity(expected)
            let withTexts = textIndex != nil
            if withTexts { out.texts.reserveCapacity(expected) }
            for (i, id) in idOfLabel.enumerated() {
                guard let id, labels.lsn(VectorID(i)) > since else { continue }
                let label = VectorID(i)
                changedLabels.append(label)
                out.ids.append(id)
                out.lsns.append(labels.lsn(label))
                out.metadata.append(metadata.metadata(of: label) ?? .object([:]))
                if withTexts { out.texts.append(text(of: label)) }
            }
            var stagedRows = [VectorID: UnsafeMutablePointer<Float>]()
            for block in staging.blocks {
                for (row, label) in block.labels.enumerated() where labels.placement(label).isLive { stagedRows[label] = block.row(row) }
            }
            out.deleted = tombstones.filter { $0.value > since }.map { (id: $0.key.id, lsn: $0.value) }
            return CheckpointRows(self, labels: changedLabels, stagedRows: stagedRows, blocks: staging.blocks, labelBound: labels.bound)
        }
        // Writers are paused, so no version ended since the walk: pinned from here on.
        pin(rows)
        out.vectors = rows
        return out
    }
}
