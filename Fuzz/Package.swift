// swift-tools-version:6.1
import Foundation
import PackageDescription

// The libFuzzer targets, a package of their own so that the sanitizer flags never touch the main build:
//
//   swift build --package-path Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//
// (scripts/fuzz.sh does that and runs them). Each target is one `LLVMFuzzerTestOneInput` that feeds its
// input through one of journeyd's doors for untrusted bytes and checks invariants on what comes out.
// The parent package is a path dependency; its identity is its directory's name, whatever the clone is called.
let parent = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent()
let journeyd = parent.lastPathComponent.lowercased()

func fuzzTarget(_ name: String, _ products: [String]) -> Target {
    .executableTarget(name: name, dependencies: ["CFuzzDriver"] + products.map { .product(name: $0, package: journeyd) })
}

let package = Package(
    name: "journeyd-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: parent.path)],
    targets: [
        // libFuzzer's driver behind the `<Target>_main` entry point SwiftPM links executables with.
        .target(name: "CFuzzDriver"),
        fuzzTarget("SegmentParserFuzz", ["JourneyCore", "JourneyEvents"]),
        fuzzTarget("RuleLoaderFuzz", ["JourneyCore", "JourneyRules"]),
        fuzzTarget("TemplateFuzz", ["JourneyCore", "JourneyTemplates"]),
        fuzzTarget("ControlRequestFuzz", ["JourneyCore"]),
        fuzzTarget("TrackingBodyFuzz", ["JourneyCore", "JourneyEvents"]),
    ]
)
