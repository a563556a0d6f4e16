// ns per distance and GFLOP/s of the distance kernels, cache-resident.
//
// Each benchmark computes distances from one query to a block of 128 KiB of
// vectors (it stays in L2), cycling through the block. One scaled iteration
// is one distance, so the wall-clock metric reads as ns per distance; the
// custom metric MFLOP/s counts 2·d floating-point operations per distance
// (a multiply and an add per dimension, as FAISS and BLAS count them).
import Benchmark
import EngramKernels

#if canImport(Glibc)
import Glibc
#endif

private let dimensions = [50, 128, 384, 768, 1536]

private func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// One query and a cache-resident block of rows, filled with a fixed pattern.
private struct Block {
    let dimension: Int
    let rows: Int
    let query: UnsafeMutablePointer<Float>
    let base: UnsafeMutablePointer<Float>

    init(dimension: Int) {
        self.dimension = dimension
        rows = max(4, (128 * 1024) / (4 * dimension))
        query = .allocate(capacity: dimension)
        base = .allocate(capacity: rows * dimension)
        for i in 0..<dimension { query[i] = Float(i % 7) * 0.25 - 0.5 }
        for i in 0..<(rows * dimension) { base[i] = Float(i % 13) * 0.125 - 0.75 }
    }
}

/// Registers one benchmark per dimension for kernel `K`. Generic, so each
/// loop is specialised and the kernel inlined: no call per distance.
private func register<K: DistanceKernel>(_ name: String, _: K.Type) {
    for d in dimensions {
        Benchmark(
            "\(name) d=\(d)",
            configuration: .init(
                metrics: [.wallClock, .custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false)],
                timeUnits: .nanoseconds,
                scalingFactor: .mega,
                maxDuration: .seconds(2),
                maxIterations: 20
            )
        ) { benchmark in
            let block = Block(dimension: d)
            var row = 0
            var sum: Float = 0
            let t0 = now()
            for _ in benchmark.scaledIterations {
                sum += K.distance(block.query, block.base + row &* d, count: d)
                row &+= 1
                if row == block.rows { row = 0 }
            }
            let seconds = Double(now() - t0) / 1e9
            blackHole(sum)
            let flops = 2.0 * Double(d) * Double(benchmark.scaledIterations.count)
            benchmark.measurement(
                .custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false), Int(flops / seconds / 1e6))
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    // The kernels are @inline(__always), so they are compiled here with this
    // build's flags: what an application embedding Engram gets.
    register("squaredL2", SquaredL2Kernel.self)
    register("innerProduct", InnerProductKernel.self)
}
