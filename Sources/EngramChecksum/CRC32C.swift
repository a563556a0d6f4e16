/// CRC-32C (Castagnoli), the checksum of Engram's byte formats (index
/// snapshots, write-ahead log records): polynomial 0x1EDC6F41 (reflected
/// 0x82F63B78), initial value and final XOR 0xFFFFFFFF, as in iSCSI, ext4,
/// LevelDB and Qdrant's WAL. `CRC32C.checksum("123456789") == 0xE3069283`.
///
/// Slicing-by-8 tables: eight bytes per step, in plain Swift (no SSE4.2
/// `crc32` instruction is reachable from Swift). Incremental use:
///
/// ```swift
/// var crc = CRC32C()
/// crc.update(header)
/// crc.update(body)
/// let value = crc.value
/// ```
public struct CRC32C: Sendable {
    private var state: UInt32 = 0xFFFF_FFFF

    public init() {}

    /// The checksum of everything passed to ``update(_:)`` so far.
    public var value: UInt32 { state ^ 0xFFFF_FFFF }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var crc = state
        var p = base
        var remaining = bytes.count
        let t = Self.tables
        while remaining >= 8 {
            let lo = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) ^ crc
            let hi = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            crc = t[7 &* 256 &+ Int(lo & 0xFF)] ^ t[6 &* 256 &+ Int((lo >> 8) & 0xFF)]
                ^ t[5 &* 256 &+ Int((lo >> 16) & 0xFF)] ^ t[4 &* 256 &+ Int(lo >> 24)]
                ^ t[3 &* 256 &+ Int(hi & 0xFF)] ^ t[2 &* 256 &+ Int((hi >> 8) & 0xFF)]
                ^ t[1 &* 256 &+ Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
            p += 8
            remaining &-= 8
        }
        while remaining > 0 {
            crc = t[Int((crc ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
            p += 1
            remaining &-= 1
        }
        state = crc
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The checksum of `bytes` alone.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// tables[k·256 + b]: the CRC of byte b followed by k zero bytes.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for b in 0..<256 {
            var crc = UInt32(b)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            t[b] = crc
        }
        for k in 1..<8 {
            for b in 0..<256 {
                let previous = t[(k - 1) * 256 + b]
                t[k * 256 + b] = (previous >> 8) ^ t[Int(previous & 0xFF)]
            }
        }
        return t
    }()
}
