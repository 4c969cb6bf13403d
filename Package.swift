// swift-tools-version: 6.0
import PackageDescription
import Foundation

// Every target is built for a target CPU: without one, Swift SIMD code lowers `addingProduct` to calls to
// `fmaf` (see PERF-NOTES). On x86-64 Linux the instruction set is chosen when the manifest is evaluated:
// - AVX-512 (`skylake-avx512`, the x86-64-v4 feature set: 32 vector registers of 16 floats) when this machine's
//   /proc/cpuinfo lists that feature set. The small UNets run faster (docs/BENCHMARKS.md has the figures);
//   such a binary does not run on CPUs without AVX-512.
// - AVX2 + FMA (`haswell`: any x86-64 machine of the last decade) otherwise.
// EVOSEARCH_SIMD=avx2 or avx512 overrides the detection (`EVOSEARCH_SIMD=avx2 swift build` for a binary to copy
// to other machines). An AVX-512 build defines EVOSEARCH_AVX512 (`NN.instructionSet` reports it). Other
// architectures build with the compiler's defaults.
let simd: [SwiftSetting] = {
    #if arch(x86_64)
    var level = ProcessInfo.processInfo.environment["EVOSEARCH_SIMD"] ?? ""
    if level.isEmpty {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) ?? ""
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let v4: Set = ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx2", "fma", "bmi2"]
        level = v4.isSubset(of: flags) ? "avx512" : "avx2"
    }
    switch level {
    case "avx2":
        return [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma", "-Xcc", "-mf16c", "-target-cpu", "haswell"], .when(platforms: [.linux]))]
    case "avx512":
        return [.unsafeFlags(["-Xcc", "-march=skylake-avx512", "-target-cpu", "skylake-avx512"], .when(platforms: [.linux])),
                .define("EVOSEARCH_AVX512", .when(platforms: [.linux]))]
    default:
        fatalError("EVOSEARCH_SIMD=\(level): expected avx2 or avx512")
    }
    #else
    return []
    #endif
}()

let package = Package(
    name: "EvoSearch",
    platforms: [.macOS(.v15)],  // gRPC Swift 2 (Remote) needs macOS 15
    products: [
        .library(name: "EvoSearch", targets: ["TensorCore", "Imaging", "ModelIO", "RandomStreams", "Schedulers", "Models", "Rewards", "Sampling", "StableDiffusion", "Flux", "Wan", "Catalog", "Search", "ToyWorlds", "ShapesWorld", "Reports", "Benchmarks", "Remote"]),
        .executable(name: "evosearch", targets: ["EvoSearchCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Remote denoisers (Open Inference Protocol over gRPC); Sources/Remote/Generated is generated once and committed.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
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
        .systemLibrary(name: "CHalfConversion", path: "Sources/CHalfConversion"),
        .target(name: "TensorCore", dependencies: ["COpenBLAS", "CThreading", "CHalfConversion"], swiftSettings: simd),
        .target(name: "ModelIO", dependencies: ["TensorCore"], swiftSettings: simd),
        .target(name: "RandomStreams", dependencies: ["TensorCore"], swiftSettings: simd),
        .target(name: "Schedulers", dependencies: ["TensorCore", "ModelIO"], swiftSettings: simd),
        .target(name: "Models", dependencies: ["TensorCore", "Schedulers", "ModelIO"], swiftSettings: simd),
        .target(name: "Rewards", dependencies: ["TensorCore", "ModelIO", "Models", "Imaging"], swiftSettings: simd),
        .target(name: "Sampling", dependencies: ["TensorCore", "ModelIO", "RandomStreams", "Schedulers", "Models"], swiftSettings: simd),
        .target(name: "StableDiffusion", dependencies: ["TensorCore", "ModelIO", "RandomStreams", "Schedulers", "Models", "Sampling"], swiftSettings: simd),
        .target(name: "Flux", dependencies: ["TensorCore", "ModelIO", "RandomStreams", "Schedulers", "Models", "Sampling"], swiftSettings: simd),
        .target(name: "Wan", dependencies: ["TensorCore", "ModelIO", "RandomStreams", "Schedulers", "Models", "Sampling"], swiftSettings: simd),
        .target(name: "Catalog", dependencies: ["Sampling", "StableDiffusion", "Flux", "Wan", "Rewards", "ShapesWorld"], swiftSettings: simd),
        .target(name: "Search", dependencies: ["TensorCore", "RandomStreams", "Sampling", "Rewards"], swiftSettings: simd),
        .target(name: "ShapesWorld", dependencies: ["TensorCore", "RandomStreams", "Imaging", "Rewards"], swiftSettings: simd),
        .target(name: "ToyWorlds", dependencies: ["TensorCore", "Schedulers", "Models", "Rewards", "Sampling", "ModelIO"], swiftSettings: simd),
        .target(name: "Reports", dependencies: ["Search", "Imaging", "TensorCore"], swiftSettings: simd),
        .target(name: "Remote", dependencies: [
                    "TensorCore", "ModelIO", "Models", "Rewards", "Sampling", "StableDiffusion", "Flux", "Wan",
                    .product(name: "GRPCCore", package: "grpc-swift-2"),
                    .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                    .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                    .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                ], exclude: ["Proto"], swiftSettings: simd),
        .target(name: "Benchmarks", dependencies: ["TensorCore", "ModelIO", "Models", "RandomStreams", "Rewards", "Sampling", "Search", "ShapesWorld", "ToyWorlds", "Reports", "Catalog"], swiftSettings: simd),
        .executableTarget(
            name: "EvoSearchCLI",
            dependencies: [
                "TensorCore", "Imaging", "ModelIO", "RandomStreams", "Schedulers", "Models", "Rewards", "Sampling", "StableDiffusion", "Catalog", "Search", "ToyWorlds", "ShapesWorld", "Reports", "Benchmarks", "Remote",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: simd
        ),
        // Seeded mutation engine shared by the parsers' fuzz tests (test-only; not in any product).
        .target(name: "FuzzSupport", path: "Tests/FuzzSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TensorCore", "FuzzSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelIOTests", dependencies: ["ModelIO", "TensorCore", "FuzzSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RandomStreamsTests", dependencies: ["RandomStreams", "TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SchedulersTests", dependencies: ["Schedulers", "ModelIO", "TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Flux", "Wan", "Models", "ModelIO", "RandomStreams", "Rewards", "Sampling", "Search", "StableDiffusion", "Schedulers", "TensorCore", "FuzzSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RewardsTests", dependencies: ["Rewards", "Models", "ModelIO", "Imaging", "TensorCore", "FuzzSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SearchTests", dependencies: ["Search", "Sampling", "Models", "Rewards", "Schedulers", "RandomStreams", "TensorCore", "ToyWorlds"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Search", "Sampling", "StableDiffusion", "Rewards", "Imaging", "TensorCore"]),
        .testTarget(name: "ShapesWorldTests", dependencies: ["ShapesWorld", "Rewards", "RandomStreams", "Imaging", "TensorCore"]),
        .testTarget(name: "BenchmarksTests", dependencies: ["Benchmarks", "Catalog", "ModelIO", "RandomStreams", "Rewards", "Sampling", "Search", "ShapesWorld", "TensorCore", "ToyWorlds"]),
        .testTarget(name: "RemoteTests", dependencies: ["Remote", "StableDiffusion", "Flux", "Wan", "Sampling", "Search", "Rewards", "ModelIO", "TensorCore"]),
        .testTarget(name: "ToyWorldsTests", dependencies: ["ToyWorlds", "RandomStreams", "Models", "Rewards", "Schedulers", "TensorCore", "FuzzSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
