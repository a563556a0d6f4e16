import EngramIndex

#if canImport(Glibc)
import Glibc
#endif

/// The library's SplitMix64 (``SplitMix64``) with the seed it started from,
/// so every random test is reproducible from the seed it prints.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var generator: SplitMix64
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        generator = SplitMix64(seed: seed)
    }

    public mutating func next() -> UInt64 { generator.next() }

    /// A generator seeded from `ENGRAM_TEST_SEED` if set, else `defaultSeed`;
    /// prints the seed with the test's name so a failure can be replayed.
    public static func forTest(_ name: String, defaultSeed: UInt64) -> SeededGenerator {
        var seed = defaultSeed
        if let text = getenv("ENGRAM_TEST_SEED"), let value = UInt64(String(cString: text)) {
            seed = value
        }
        print("[seed] \(name): \(seed) (replay with ENGRAM_TEST_SEED=\(seed))")
        return SeededGenerator(seed: seed)
    }

    /// A standard normal sample (Box–Muller).
    public mutating func gaussian() -> Float {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// `count` vectors of `dimension` standard normal values, packed.
    public mutating func gaussianVectors(count: Int, dimension: Int) -> [Float] {
        (0..<(count * dimension)).map { _ in gaussian() }
    }

    /// `count` vectors drawn around `clusters` random centres (a little
    /// structure, as real embeddings have), packed.
    public mutating func clusteredVectors(count: Int, dimension: Int, clusters: Int, spread: Float = 0.35) -> [Float] {
        let centres = gaussianVectors(count: clusters, dimension: dimension)
        var out = [Float]()
        out.reserveCapacity(count * dimension)
        for _ in 0..<count {
            let c = Int.random(in: 0..<clusters, using: &self)
            for j in 0..<dimension { out.append(centres[c * dimension + j] + spread * gaussian()) }
        }
        return out
    }
}
