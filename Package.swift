// swift-tools-version: 6.0
import PackageDescription

// Every target is built with FMA code generation: without a target CPU Swift SIMD code lowers
// `addingProduct` to calls to `fmaf` (see PERF-NOTES). `haswell` (AVX2 + FMA) runs on any x86-64
// machine of the last decade; it is applied only when building for x86-64.
let simd: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma", "-target-cpu", "haswell"], .when(platforms: [.linux])),
]

let package = Package(
    name: "EvoSearch",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "EvoSearch", targets: ["TensorCore", "Imaging", "ModelIO", "RandomStreams", "Schedulers", "Models", "Rewards", "Sampling", "Search", "ToyWorlds", "ShapesWorld"]),
        .executable(name: "evosearch", targets: ["EvoSearchCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Imaging", dependencies: ["TensorCore", "CZlib"], swiftSettings: simd),
        .target(name: "CThreading", path: "Sources/CThreading"),
        .target(name: "TensorCore", dependencies: ["COpenBLAS", "CThreading"], swiftSettings: simd),
        .target(name: "ModelIO", dependencies: ["TensorCore"], swiftSettings: simd),
        .target(name: "RandomStreams", dependencies: ["TensorCore"], swiftSettings: simd),
        .target(name: "Schedulers", dependencies: ["TensorCore"], swiftSettings: simd),
        .target(name: "Models", dependencies: ["TensorCore", "Schedulers", "ModelIO"], swiftSettings: simd),
        .target(name: "Rewards", dependencies: ["TensorCore", "ModelIO", "Models", "Imaging", "ShapesWorld"], swiftSettings: simd),
        .target(name: "Sampling", dependencies: ["TensorCore", "RandomStreams", "Schedulers", "Models"], swiftSettings: simd),
        .target(name: "Search", dependencies: ["TensorCore", "RandomStreams", "Sampling", "Rewards"], swiftSettings: simd),
        .target(name: "ShapesWorld", dependencies: ["TensorCore", "RandomStreams", "Imaging"], swiftSettings: simd),
        .target(name: "ToyWorlds", dependencies: ["TensorCore", "Schedulers", "Models", "Rewards", "Sampling"], swiftSettings: simd),
        .target(name: "Reports", dependencies: ["Search", "Imaging", "TensorCore"], swiftSettings: simd),
        .executableTarget(
            name: "EvoSearchCLI",
            dependencies: [
                "TensorCore", "Imaging", "RandomStreams", "Schedulers", "Models", "Rewards", "Sampling", "Search", "ToyWorlds", "ShapesWorld", "Reports",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: simd
        ),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelIOTests", dependencies: ["ModelIO", "TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RandomStreamsTests", dependencies: ["RandomStreams", "TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SchedulersTests", dependencies: ["Schedulers", "TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "ModelIO", "RandomStreams", "Rewards", "Schedulers", "TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RewardsTests", dependencies: ["Rewards", "Models", "ModelIO", "Imaging", "TensorCore", "ShapesWorld"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SearchTests", dependencies: ["Search", "Sampling", "Models", "Rewards", "Schedulers", "RandomStreams", "TensorCore", "ToyWorlds"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Search", "Sampling", "Rewards", "Imaging", "TensorCore"]),
        .testTarget(name: "ShapesWorldTests", dependencies: ["ShapesWorld", "RandomStreams", "Imaging", "TensorCore"]),
        .testTarget(name: "ToyWorldsTests", dependencies: ["ToyWorlds", "RandomStreams", "Models", "Rewards", "Schedulers", "TensorCore"]),
    ],
    swiftLanguageModes: [.v6]
)
