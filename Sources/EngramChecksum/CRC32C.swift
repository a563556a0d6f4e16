#if ENGRAM_FMA && arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

/// CRC-32C (Castagnoli), the checksum of Engram's byte formats (index
/// snapshots, write-ahead log records): polynomial 0x1EDC6F41 (reflected
/// 0x82F63B78), initial value and final XOR 0xFFFFFFFF, as in iSCSI, ext4,
/// LevelDB and Qdrant's WAL. `CRC32C.checksum("123456789") == 0xE3069283`.
///
/// Eight bytes per step: in the project's x86-64-v3 builds (`ENGRAM_FMA`,
/// scripts/swift-flags) the SSE4.2 `crc32` instruction, reached through
/// Clang's intrinsics module; elsewhere slicing-by-8 tables in plain Swift
/// (the intrinsic cannot be compiled for baseline x86-64). Both give the same
/// values (tested). Long inputs run three lanes of ``laneBytes`` at once, so
/// the three dependency chains overlap in the CPU (the instruction's latency
/// is three cycles, its throughput one), and join them by linearity: the CRC
/// register after `A‖B` is `shift(register after A, |B|) ⊕ (register after B
/// started from 0)`, where `shift` (feeding `|B|` zero bytes) is linear and
/// so a table lookup too. Measured on one Zen 3 core (Docs/KERNELS.md): 27
/// GB/s with the instruction on a buffer in cache, 9.8 on 64 MiB; 4.5 and
/// 3.5 with the tables.
/// Incremental use:
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

    /// The length of each of the three lanes of a long input.
    static let laneBytes = 2048

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        #if ENGRAM_FMA && arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        state = Self.registerAfter(bytes, from: state, step: Self.instructionStep8)
        #else
        state = Self.registerAfter(bytes, from: state, step: Self.step8)
        #endif
    }

    /// The checksum of `bytes` by the tables alone, whatever the build (for
    /// the tests that hold the two ways to the same values).
    static func tableChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        registerAfter(bytes, from: 0xFFFF_FFFF, step: step8) ^ 0xFFFF_FFFF
    }

    #if ENGRAM_FMA && arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    /// The register after eight more bytes at `p`, by the `crc32` instruction.
    @inline(__always)
    private static func instructionStep8(_ crc: UInt32, _ p: UnsafeRawPointer, _ t: UnsafePointer<UInt32>) -> UInt32 {
        UInt32(truncatingIfNeeded: _mm_crc32_u64(UInt64(crc), UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))))
    }
    #endif

    /// The register after `bytes`, from `initial`, eight bytes at a time by `step`.
    @inline(__always)
    private static func registerAfter(
        _ bytes: UnsafeRawBufferPointer, from initial: UInt32,
        step step8: (UInt32, UnsafeRawPointer, UnsafePointer<UInt32>) -> UInt32
    ) -> UInt32 {
        guard let base = bytes.baseAddress else { return initial }
        let state = initial
        return Self.tables.withUnsafeBufferPointer { tables in
            // No bounds checks in the loops: every index is below 12·256.
            let t = tables.baseAddress!
            var crc = state
            var p = base
            var remaining = bytes.count
            let lane = Self.laneBytes
            while remaining >= 3 &* lane {
                var a = crc, b: UInt32 = 0, c: UInt32 = 0
                var i = 0
                while i < lane {
                    a = step8(a, p + i, t)
                    b = step8(b, p + (lane &+ i), t)
                    c = step8(c, p + (2 &* lane &+ i), t)
                    i &+= 8
                }
                crc = Self.shiftLane(Self.shiftLane(a, t) ^ b, t) ^ c
                p += 3 &* lane
                remaining &-= 3 &* lane
            }
            while remaining >= 8 {
                crc = step8(crc, p, t)
                p += 8
                remaining &-= 8
            }
            while remaining > 0 {
                crc = t[Int((crc ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
                p += 1
                remaining &-= 1
            }
            return crc
        }
    }

    /// The register after eight more bytes at `p` (slicing-by-8, tables 0…7).
    @inline(__always)
    private static func step8(_ crc: UInt32, _ p: UnsafeRawPointer, _ t: UnsafePointer<UInt32>) -> UInt32 {
        let lo = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) ^ crc
        let hi = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        return t[7 &* 256 &+ Int(lo & 0xFF)] ^ t[6 &* 256 &+ Int((lo >> 8) & 0xFF)]
            ^ t[5 &* 256 &+ Int((lo >> 16) & 0xFF)] ^ t[4 &* 256 &+ Int(lo >> 24)]
            ^ t[3 &* 256 &+ Int(hi & 0xFF)] ^ t[2 &* 256 &+ Int((hi >> 8) & 0xFF)]
            ^ t[1 &* 256 &+ Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
    }

    /// The register after ``laneBytes`` zero bytes (tables 8…11).
    @inline(__always)
    private static func shiftLane(_ crc: UInt32, _ t: UnsafePointer<UInt32>) -> UInt32 {
        t[8 &* 256 &+ Int(crc & 0xFF)] ^ t[9 &* 256 &+ Int((crc >> 8) & 0xFF)]
            ^ t[10 &* 256 &+ Int((crc >> 16) & 0xFF)] ^ t[11 &* 256 &+ Int(crc >> 24)]
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

    /// tables[k·256 + b], k < 8: the CRC of byte b followed by k zero bytes.
    /// tables[(8 + j)·256 + b]: the register `b << 8j` after ``laneBytes`` zero bytes.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 12 * 256)
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
        // The shift is linear: shift each of the 32 register bits, then combine.
        var shiftedBit = [UInt32](repeating: 0, count: 32)
        for bit in 0..<32 {
            var crc = UInt32(1) << bit
            for _ in 0..<laneBytes { crc = t[Int(crc & 0xFF)] ^ (crc >> 8) }
            shiftedBit[bit] = crc
        }
        for j in 0..<4 {
            for b in 0..<256 {
                var out: UInt32 = 0
                for i in 0..<8 where b & (1 << i) != 0 { out ^= shiftedBit[8 * j + i] }
                t[(8 + j) * 256 + b] = out
            }
        }
        return t
    }()
}
