// swift-tools-version:6.0
import PackageDescription

// Dependency direction (never upward):
// CKernels <- LanternTensor <- LanternFormats <- LanternTokenizers
//                               LanternFormats <- LanternModels <- LanternGeneration <- Lantern <- lantern (CLI)
// LanternTemplates (the Jinja subset) imports nothing of Lantern's; the facade uses it.
// LanternServer (OpenAI-compatible HTTP on Hummingbird) sits on the facade beside the CLI.
let package = Package(
    name: "Lantern",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Lantern", targets: ["Lantern"]),
        .executable(name: "lantern", targets: ["lantern"]),
        // The fuzz targets' bodies, shared by fuzz/ (libFuzzer builds) and the regression replay tests.
        .library(name: "LanternFuzzing", targets: ["LanternFuzzing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // Innermost SIMD loops in C with per-function target attributes and runtime ISA dispatch,
        // so a plain `swift build -c release` reaches AVX2/AVX-512 speed without unsafeFlags.
        .target(name: "CKernels"),
        .target(name: "LanternTensor", dependencies: ["CKernels"]),
        .target(name: "LanternFormats", dependencies: ["LanternTensor"]),
        .target(name: "LanternTokenizers", dependencies: ["LanternFormats"]),
        .target(name: "LanternTemplates"),
        .target(name: "LanternModels", dependencies: ["LanternTensor", "LanternFormats"]),
        .target(name: "LanternGeneration", dependencies: ["LanternModels", "LanternTokenizers"]),
        .target(name: "Lantern", dependencies: ["LanternGeneration", "LanternTemplates", "LanternModels", "LanternTokenizers", "LanternFormats", "LanternTensor"]),
        .target(name: "LanternServer", dependencies: [
            "Lantern", "LanternGeneration",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // One function per fuzz target: feeds arbitrary bytes to a loader, tokenizer, template or request
        // decoder and traps on anything but a result or a typed error. fuzz/ links it into libFuzzer.
        .target(name: "LanternFuzzing", dependencies: [
            "Lantern", "LanternServer", "LanternFormats", "LanternTokenizers", "LanternTemplates", "LanternModels",
        ]),
        // fuzz/run.sh builds this with -sanitize=fuzzer,address -DLANTERN_FUZZ; a plain build makes a stub
        // that says so. CFuzzDriver only declares libFuzzer's LLVMFuzzerRunDriver.
        .target(name: "CFuzzDriver", path: "fuzz/CFuzzDriver"),
        .executableTarget(name: "lantern-fuzz", dependencies: ["LanternFuzzing", "CFuzzDriver"], path: "fuzz/Driver"),
        .executableTarget(name: "lantern", dependencies: [
            "Lantern",
            "LanternServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The real-model tests of these targets fetch SmolLM2 through the facade's fetcher.
        // The README's library example, built and run by LanternTests.
        .executableTarget(name: "lantern-example", dependencies: ["Lantern"], path: "Examples/ReadmeExample"),
        .testTarget(name: "LanternTensorTests", dependencies: ["LanternTensor", "CKernels", "Lantern"]),
        .testTarget(name: "LanternFormatsTests", dependencies: ["LanternFormats"]),
        .testTarget(name: "LanternTokenizersTests", dependencies: ["LanternTokenizers", "LanternFormats", "Lantern"]),
        .testTarget(name: "LanternTemplatesTests", dependencies: ["LanternTemplates"]),
        .testTarget(name: "LanternModelsTests", dependencies: ["LanternModels", "LanternFormats"]),
        .testTarget(name: "LanternGenerationTests", dependencies: ["LanternGeneration", "LanternFormats"]),
        .testTarget(name: "LanternTests", dependencies: ["Lantern"]),
        // Replays fuzz/corpus seeds and every crash the fuzzers found (fuzz/regressions) through LanternFuzzing.
        .testTarget(name: "LanternFuzzingTests", dependencies: ["LanternFuzzing"]),
        // Starts the built `lantern serve` and drives it with the official `openai` Python client (and
        // the page with headless Chromium); LanternServer itself for the page's colours.
        .testTarget(name: "LanternServerTests", dependencies: ["Lantern", "LanternFormats", "LanternServer"]),
    ]
)
