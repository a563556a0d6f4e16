import EngramFuzzTargets
import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The fuzz targets in the normal test run: every committed input under
/// `Fixtures/fuzz/<target>/` (the inputs that found something, kept so it
/// stays fixed), the target's seeds, and seeded random mutations of them
/// (a small, deterministic stand-in for `scripts/fuzz`). None may trap,
/// and none may break the target's promises.
@Suite("Fuzz targets: committed findings, seeds and mutations replayed")
struct FuzzCorpusTests {
    @Test("every committed finding and seed, and 300 mutations of the seeds, pass through each reader", arguments: FuzzTarget.allCases)
    func replay(target: FuzzTarget) throws {
        let scratch = TemporaryDirectory("engram-fuzz")
        defer { scratch.remove() }
        let seeds = try target.seeds(scratch: scratch.path)
        #expect(!seeds.isEmpty)
        let folder = "\(RepositoryPaths.root)/Fixtures/fuzz/\(target.rawValue)"
        var committed = [[UInt8]]()
        if let dir = opendir(folder) {
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard !name.hasPrefix(".") else { continue }
                committed.append(TemporaryDirectory.readFile("\(folder)/\(name)"))
            }
        }
        for input in committed + seeds { #expect(target.run(input), "\(target.rawValue): a committed input or seed broke a promise") }
        var rng = SeededGenerator.forTest("fuzz.\(target.rawValue)", defaultSeed: 171)
        for trial in 0..<300 {
            var bytes = seeds[trial % seeds.count]
            guard !bytes.isEmpty else { continue }
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
                case 2:  // a field set to an extreme: 0, all ones, or a large power of two
                    let value: UInt32 = [0, .max, 0x00F0_0000, 0x8000_0000][Int.random(in: 0..<4, using: &rng)]
                    withUnsafeBytes(of: value.littleEndian) { for (j, b) in $0.enumerated() where at + j < bytes.count { bytes[at + j] = b } }
                default: bytes.removeLast(Int.random(in: 0..<Swift.min(bytes.count, 64), using: &rng))
                }
                if bytes.isEmpty { break }
            }
            #expect(target.run(bytes), "\(target.rawValue) trial \(trial): broke a promise")
        }
    }
}
