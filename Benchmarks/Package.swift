// swift-tools-version: 6.1
//
// Micro-benchmarks of Engram's kernels (ordo-one package-benchmark), in a nested
// package so that its dependencies never reach Engram's users.
//
//   cd Benchmarks && swift package $(../scripts/swift-flags) benchmark
import PackageDescription

let package = Package(
    name: "EngramBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "KernelBenchmarks",
            dependencies: [
                "Engram",
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/KernelBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
