import CLZ4

/// LZ4 block compression (liblz4's `LZ4_compress_default` and
/// `LZ4_decompress_safe`), the only way Engram touches liblz4: write-ahead
/// log records, and graph snapshots stored in PostgreSQL.
///
/// Decompression is bounds-checked by liblz4 itself: corrupt input yields
/// `nil`, never a read or write outside the buffers.
public enum LZ4Block {
    /// The largest input liblz4 accepts (`LZ4_MAX_INPUT_SIZE`, about 2 GB).
    public static let maxInput = Int(LZ4_MAX_INPUT_SIZE)

    /// `source` compressed, or `nil` if it would not shrink (then store it raw).
    public static func compress(_ source: UnsafeRawBufferPointer) -> [UInt8]? {
        guard source.count > 0, source.count <= maxInput else { return nil }
        let bound = Int(LZ4_compressBound(Int32(source.count)))
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            LZ4_compress_default(
                source.baseAddress!.assumingMemoryBound(to: CChar.self),
                dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                Int32(source.count), Int32(bound))
        }
        guard written > 0, Int(written) < source.count else { return nil }
        out.removeLast(bound - Int(written))
        return out
    }

    /// Decompresses `source` into exactly `target.count` bytes; false if the
    /// bytes are not a valid LZ4 block of that size.
    public static func decompress(_ source: UnsafeRawBufferPointer, into target: UnsafeMutableRawBufferPointer) -> Bool {
        guard target.count <= maxInput, source.count > 0 else { return target.isEmpty }
        let produced = LZ4_decompress_safe(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            target.baseAddress?.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(target.count))
        return produced == Int32(target.count)
    }
}

extension WriteAheadLog {
    /// What LZ4 makes of `bytes` in the log: the stored size over the raw
    /// size (1 when it would not shrink, as the log then stores it raw).
    public static func compressionRatio(_ bytes: [UInt8]) -> Double {
        guard !bytes.isEmpty else { return 1 }
        let stored = bytes.withUnsafeBytes { LZ4Block.compress($0)?.count } ?? bytes.count
        return Double(stored) / Double(bytes.count)
    }
}
