// swift-tools-version: 6.1
//
// Micro-benchmarks of Engram's kernels (ordo-one package-benchmark), in a nested
// package so that its dependencies never reach Engram's users.
//
//   cd Benchmarks && swift package $(../scripts/swift-flags) benchmark
import PackageDescription

// SwiftPM names a path dependency after its folder, and the repository's folder name
// differs between checkouts (CI clones it elsewhere), so derive it.
let engramPackage = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "main")

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
                .product(name: "Engram", package: engramPackage),
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/KernelBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
