// swift-tools-version: 6.1
//
// Engram: a vector store engine in Swift (liblz4 and libpq reached through system-library
// targets) with PostgreSQL persistence.
//
// Modules, lowest (purest) first. A module may depend only on modules above it
// in this list; see Docs/ARCHITECTURE.md for the map.
//
//   EngramSync      locks, a condition wrapper, the monotonic clock    (no I/O; package-internal)
//   EngramChecksum  CRC-32C of every byte format                       (no I/O)
//   EngramKernels   distance kernels and the metric contract           (no I/O)
//   CPrefetch       header only: the cache prefetch instruction Swift cannot say (no library)
//   EngramIndex     flat and HNSW indexes, heaps, filters, snapshots   (no I/O)
//   EngramMetadata  metadata values, their codec and JSON, filters, the metadata index (no I/O)
//   EngramText      tokenizer, English stemmer and stop words, the BM25 text index (no I/O)
//   EngramDatasets  TEXMEX .fvecs/.ivecs and BigANN .fbin/.ibin files  (file I/O)
//   CLZ4            system library: liblz4 (Debian liblz4-dev)
//   EngramWAL       write-ahead log segments and records, LZ4-compressed (file I/O)
//   EngramEngine    the store: collections, write path, recovery, checkpoints (file I/O)
//   EngramMemory    the agent memory layer: agents, tasks, experiences over the store's collections
//   CLibPQ          system library: libpq (Debian libpq-dev)
//   EngramPostgres  libpq wrapper, pool, binary COPY; the engine's checkpoint target and
//                   the restore reader (PostgreSQL + pgvector)          (network I/O)
//   EngramMemoryPostgres  the memory layer's typed tables, a projection every checkpoint keeps in step
//   EngramTools     `engram` command implementations (bench, ...)
//   EngramCLI       the `engram` executable: one file per command, shared option groups, Codable JSON
//
// No unsafeFlags here: the package must stay usable as a versioned dependency.
// The AVX2/FMA build comes from scripts/toolset-x86-64-v3.json (see README).
import PackageDescription

let package = Package(
    name: "Engram",
    platforms: [.macOS(.v15)],
    products: [
        .library(
            name: "Engram",
            targets: ["EngramChecksum", "EngramKernels", "EngramIndex", "EngramMetadata", "EngramText", "EngramDatasets", "EngramWAL", "EngramEngine", "EngramMemory", "EngramPostgres", "EngramMemoryPostgres"]
        ),
        .executable(name: "engram", targets: ["EngramCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // `swift package generate-documentation` (the DocC catalogs under Sources/*/*.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(name: "EngramSync"),
        .target(name: "EngramChecksum"),
        .target(name: "EngramKernels"),
        .systemLibrary(name: "CPrefetch"),
        .target(name: "EngramIndex", dependencies: ["CPrefetch", "EngramKernels", "EngramChecksum", "EngramSync"]),
        .target(name: "EngramMetadata", dependencies: ["EngramIndex"]),
        .target(name: "EngramText", dependencies: ["EngramChecksum", "EngramIndex", "EngramSync"]),
        .target(name: "EngramDatasets"),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .target(name: "EngramWAL", dependencies: ["CLZ4", "EngramChecksum", "EngramSync"]),
        .target(
            name: "EngramEngine",
            dependencies: [
                "EngramIndex", "EngramKernels", "EngramMetadata", "EngramSync", "EngramText", "EngramWAL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(name: "EngramMemory", dependencies: [
            "EngramEngine", "EngramIndex", "EngramMetadata", "EngramSync", "EngramText", .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .target(name: "EngramMemoryPostgres", dependencies: ["EngramEngine", "EngramMemory", "EngramPostgres"]),
        .target(name: "EngramPostgres", dependencies: ["CLibPQ", "EngramEngine", "EngramIndex", "EngramKernels", "EngramMetadata", "EngramChecksum", "EngramSync"]),
        .target(
            name: "EngramTools",
            dependencies: ["EngramKernels", "EngramIndex", "EngramMetadata", "EngramDatasets", "EngramEngine", "EngramMemory", "EngramMemoryPostgres",
                           "EngramPostgres", "EngramSync", "EngramText", "EngramWAL"]
        ),
        .executableTarget(
            name: "EngramCLI",
            dependencies: [
                "EngramTools",
                "EngramEngine",
                "EngramMemory",
                "EngramMemoryPostgres",
                "EngramMetadata",
                "EngramDatasets",
                "EngramSync",
                "EngramText",
                "EngramWAL",
                "EngramPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The readers of untrusted bytes as fuzz targets, and the program libFuzzer drives
        // (scripts/fuzz; Docs/DEVELOPMENT.md, "Fuzzing"). Not part of the library product.
        .target(name: "EngramFuzzTargets", dependencies: ["EngramChecksum", "EngramEngine", "EngramIndex", "EngramMetadata", "EngramPostgres", "EngramText", "EngramWAL"]),
        .executableTarget(name: "EngramFuzz", dependencies: ["EngramFuzzTargets"]),
        // The writer the crash tests kill at random moments (a test instrument, not shipped in `engram`).
        .executableTarget(
            name: "EngramCrashWriter",
            dependencies: ["EngramEngine", "EngramMemory", "EngramMemoryPostgres", "EngramPostgres",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tests/EngramCrashWriter"
        ),
        // Seeded generators and server lookup shared by the test targets.
        .target(name: "EngramTestSupport", dependencies: ["EngramEngine", "EngramIndex", "EngramMetadata", "EngramSync", "EngramTools"], path: "Tests/EngramTestSupport"),
        .testTarget(name: "EngramSyncTests", dependencies: ["EngramSync", "EngramTestSupport"]),
        .testTarget(name: "EngramChecksumTests", dependencies: ["EngramChecksum"]),
        .testTarget(name: "EngramKernelsTests", dependencies: ["EngramKernels", "EngramTestSupport"]),
        .testTarget(
            name: "EngramIndexTests",
            dependencies: ["EngramIndex", "EngramKernels", "EngramSync", "EngramTestSupport"]
        ),
        .testTarget(name: "EngramMetadataTests", dependencies: ["EngramMetadata", "EngramIndex", "EngramTestSupport"]),
        .testTarget(name: "EngramMemoryTests", dependencies: ["EngramMemory", "EngramEngine", "EngramMetadata", "EngramText", "EngramTestSupport"]),
        .testTarget(name: "EngramTextTests", dependencies: ["EngramText", "EngramIndex", "EngramTestSupport"]),
        .testTarget(name: "EngramDatasetsTests", dependencies: ["EngramDatasets", "EngramTestSupport"]),
        .testTarget(
            name: "EngramEngineTests",
            dependencies: [
                "EngramChecksum", "EngramEngine", "EngramIndex", "EngramMetadata", "EngramSync", "EngramTestSupport", "EngramText",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(name: "EngramWALTests", dependencies: ["EngramWAL", "EngramIndex", "EngramSync", "EngramTestSupport"]),
        .testTarget(
            name: "EngramPostgresTests",
            dependencies: ["EngramPostgres", "EngramEngine", "EngramIndex", "EngramKernels", "EngramMetadata", "EngramSync", "EngramTestSupport", "EngramText",
                           "EngramMemory", "EngramMemoryPostgres"]
        ),
        .testTarget(
            name: "EngramToolsTests",
            dependencies: ["EngramTools", "EngramDatasets", "EngramIndex", "EngramMetadata", "EngramTestSupport"]
        ),
        .testTarget(name: "EngramFuzzTests", dependencies: ["EngramFuzzTargets", "EngramTestSupport"]),
        .testTarget(
            name: "EngramCLITests",
            dependencies: [
                "EngramCLI", "EngramEngine", "EngramMetadata", "EngramPostgres", "EngramTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ]
)
