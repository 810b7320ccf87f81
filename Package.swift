// swift-tools-version:6.1
import PackageDescription

// Module map (dependencies point inward, to JourneyCore):
//   JourneyCore        vocabulary and seams: values, time, events, user state, the StateStore protocol. No vendors.
//   JourneyEvents      Segment-spec JSON lines -> Event, with precise rejection reasons. No vendors.
//   JourneyRules       rule directory (YAML) -> validated RuleSet; the expression language. Only module that sees Yams.
//   JourneyEngine      the deterministic engine: (rules, state, input, now) -> (state, effects); in-memory store.
//   JourneyHTTP        the Segment HTTP Tracking API as an event source, and the admin listener (/metrics,
//                      /healthz, /readyz). Only module that sees Hummingbird and CompressNIO.
//   JourneyStore       the durable StateStore over SQLite (WAL, synchronous=FULL). Only module that sees GRDB
//                      (and, for a checkpoint's rows, SQLite's C API through GRDBSQLite).
//   JourneyPostgres    cluster mode's checkpoint store and partition leases in PostgreSQL. Only module that sees
//                      PostgresNIO.
//   JourneyDaemon      `journeyd run`: inputs, the processing loop, group commit, the outbox dispatcher.
//   JourneySimulation  what runs the engine on a simulated clock: `test`, `replay`, funnels, the event generator.
//   journeyd           the command line. Only module that sees ArgumentParser and Prometheus (it bootstraps
//                      the metrics system once).
//   JourneyTesting     test helpers shared by the test targets.
//   JourneyTemplates   Liquid templates: compiled at load, rendered with escaping by context. No vendors.
//   JourneyChannels    the channel adapter seam and adapters (webhook, email, sms, chat bots, exec, file, log),
//                      outcome classification, retry schedule, rate limits, breaker. Only module that sees
//                      AsyncHTTPClient, NIO, NIOSSL and Crypto.
//   CSystemd           libsystemd (apt libsystemd-dev); only JourneySystemd imports it.
//   JourneySystemd     sd_notify, watchdog, socket activation (listen fds), journald and stderr log handlers.
//                      Sees CSystemd, JourneyCore (the record kinds), Logging.
//   CNats              libnats (apt libnats-dev 3.4, the NATS C client with JetStream); only JourneyNATS imports it.
//   JourneyNATS        cluster mode's event log: the JetStream stream (one subject per partition), the partition
//                      publisher (PubAck, Nats-Msg-Id), `JetStreamLog` (an EventLog). Sees CNats, JourneyCore.
//   journeyd-bench     the benchmark that writes a report (not a test).
let package = Package(
    name: "journeyd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "journeyd", targets: ["journeyd"]),
        .executable(name: "journeyd-bench", targets: ["JourneyBench"]),
        // The pure modules the fuzz targets (Fuzz/, a package of their own) link against.
        .library(name: "JourneyCore", targets: ["JourneyCore"]),
        .library(name: "JourneyEvents", targets: ["JourneyEvents"]),
        .library(name: "JourneyRules", targets: ["JourneyRules"]),
        .library(name: "JourneyTemplates", targets: ["JourneyTemplates"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .target(name: "JourneyCore", dependencies: [.product(name: "HeapModule", package: "swift-collections")]),
        .target(name: "JourneyLog", dependencies: ["JourneyCore"]),
        .target(name: "JourneySources", dependencies: ["JourneyCore"]),
        .target(name: "JourneyEvents", dependencies: ["JourneyCore"]),
        .target(
            name: "JourneyHTTP",
            dependencies: [
                "JourneyCore", "JourneyEvents", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"), .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOExtras", package: "swift-nio-extras"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "JourneyRules",
            dependencies: ["JourneyCore", "JourneyTemplates", .product(name: "Yams", package: "Yams")]
        ),
        .target(name: "JourneyEngine", dependencies: ["JourneyCore", "JourneyRules"]),
        .target(
            name: "JourneyStore",
            dependencies: ["JourneyCore", "JourneyEvents", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift")]
        ),
        .target(
            name: "JourneyPostgres",
            dependencies: [
                "JourneyCore", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "JourneyTemplates", dependencies: ["JourneyCore"]),
        .target(
            name: "JourneyChannels",
            dependencies: [
                "JourneyCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                // RSA (RS256 JWTs for FCM's service accounts); only in JourneyChannels' Signing and FCM folders.
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(
            name: "JourneySystemd",
            dependencies: ["CSystemd", "JourneyCore", .product(name: "Logging", package: "swift-log")]
        ),
        .systemLibrary(name: "CNats", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),
        .target(name: "JourneyNATS", dependencies: ["CNats", "JourneyCore"]),
        .target(
            name: "JourneyDaemon",
            dependencies: [
                "JourneyCore", "JourneyEvents", "JourneyRules", "JourneyEngine", "JourneyStore", "JourneyTemplates",
                "JourneyChannels", "JourneyLog", "JourneySources", "JourneyHTTP", "JourneyNATS", "JourneyPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .target(name: "JourneySimulation", dependencies: ["JourneyCore", "JourneyEvents", "JourneyRules", "JourneyEngine"]),
        .executableTarget(
            name: "journeyd",
            dependencies: [
                "JourneyCore", "JourneyEvents", "JourneyRules", "JourneyEngine", "JourneySimulation", "JourneyDaemon",
                "JourneySystemd", "JourneyChannels", "JourneyStore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "JourneyBench",
            dependencies: [
                "JourneyCore", "JourneyEvents", "JourneyRules", "JourneyEngine", "JourneySimulation", "JourneyTemplates", "JourneyChannels",
                "JourneyNATS",
            ]
        ),
        .target(name: "JourneyTesting", dependencies: ["JourneyCore", "JourneyRules", "JourneyEngine"]),
        .testTarget(name: "JourneyTestingTests", dependencies: ["JourneyTesting"]),
        .testTarget(name: "JourneyLogTests", dependencies: ["JourneyLog", "JourneyCore", "JourneyTesting"]),
        .testTarget(name: "JourneySourcesTests", dependencies: ["JourneySources", "JourneyCore", "JourneyTesting"]),
        .testTarget(
            name: "JourneyHTTPTests",
            dependencies: [
                "JourneyHTTP", "JourneyCore", "JourneyEvents", "JourneyTesting", .product(name: "Logging", package: "swift-log"),
                // A listening channel of its own for the listener's pause after a failed accept (AcceptPauseTests).
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Peers"]  // Python test peers (the Segment and RudderStack SDKs), started by the tests
        ),

        .testTarget(name: "JourneyCoreTests", dependencies: ["JourneyCore", "JourneyTesting"]),
        .testTarget(
            name: "JourneyTemplatesTests",
            // JourneyEvents: its JSON parser keeps object members in order, as the conformance suite needs.
            dependencies: [
                "JourneyTemplates", "JourneyEvents", .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            resources: [.copy("Fixtures")]  // Fixtures/golden-liquid: the Golden Liquid suite (MIT, with its LICENSE)
        ),
        .testTarget(
            name: "JourneyChannelsTests",
            dependencies: [
                "JourneyChannels", "JourneyTesting", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Peers"]  // Python test peers, started by the tests
        ),
        .testTarget(name: "JourneyNATSTests", dependencies: ["JourneyNATS", "CNats", "JourneyCore", "JourneyTesting"]),
        .testTarget(name: "JourneySystemdTests", dependencies: ["JourneySystemd", "JourneyCore", "JourneyTesting"]),
        .testTarget(name: "JourneyEventsTests", dependencies: ["JourneyEvents", "JourneyTesting"]),
        .testTarget(
            name: "JourneyRulesTests",
            dependencies: [
                "JourneyRules", "JourneyTemplates", "JourneyTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "JourneyEngineTests",
            dependencies: [
                "JourneyEngine", "JourneyRules", "JourneyTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "JourneyDaemonTests",
            dependencies: ["JourneyDaemon", "JourneySimulation", "JourneyStore", "JourneyTesting"],
            exclude: ["Peers"]  // Python test peers, started by the tests
        ),
        .testTarget(
            name: "JourneyStoreTests",
            dependencies: [
                "JourneyStore", "JourneyEngine", "JourneyTesting", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "JourneyPostgresTests",
            dependencies: [
                "JourneyPostgres", "JourneyCore", "JourneyTesting", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "JourneySimulationTests",
            dependencies: [
                "JourneySimulation", "JourneyEvents", "JourneyTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))  // SE-0335: spell out existentials
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))  // SE-0444
    target.swiftSettings = settings
}
