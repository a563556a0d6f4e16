/// Hands out the next staging row for one collection's replayed vectors:
/// replay prepares each logged vector straight into the staging block it
/// will live in, on the opening thread, so the applying thread neither
/// copies vectors nor faults in their memory (``ReplayApplier``).
///
/// Invariant: rows are handed out in order, block after block, and the
/// applying thread labels them in the same order
/// (``StagingBuffer/adoptWrittenRow(of:label:)``); a block is handed out
/// only by this writer until it is full.
struct ReplayBlockWriter {
    let dimension: Int
    private var block: StagingBuffer.Block?
    private var written = 0

    init(dimension: Int) { self.dimension = dimension }

    /// The block and the row (`dimension` floats) to write the next vector to.
    mutating func nextRow() -> (StagingBuffer.Block, UnsafeMutablePointer<Float>) {
        if block == nil || written == block!.capacity {
            block = StagingBuffer.Block(dimension: dimension)
            written = 0
        }
        defer { written += 1 }
        return (block!, block!.row(written))
    }
}
