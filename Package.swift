// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Sealpost",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sealpost-node", targets: ["sealpost-node"]),
        .executable(name: "sealpost", targets: ["sealpost"]),
        .executable(name: "sealpost-bench", targets: ["sealpost-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", exact: "0.27.1"),
    ],
    targets: [
        // Thin C system libraries (Debian: libzmq3-dev, libsodium-dev, libsqlite3-dev).
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        .systemLibrary(name: "CSodium", path: "Sources/CSodium"),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),

        // One thin Swift module over each; nothing else touches C pointers.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "Sodium", dependencies: ["CSodium"]),
        .target(name: "SQLite", dependencies: ["CSQLite"]),

        // Protocol types, codec, end-to-end construction. No sockets, no files.
        .target(name: "SealpostCore", dependencies: ["Sodium"]),

        // The relay node: reactor, store, ZAP, config.
        .target(name: "SealpostNode", dependencies: [
            "SealpostCore", "ZeroMQ", "Sodium", "SQLite",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
        ]),
        // The client library used by the CLI, the benchmark and tests.
        .target(name: "SealpostClient", dependencies: [
            "SealpostCore", "ZeroMQ", "Sodium",
        ]),

        // The local client daemon: history, the loopback HTTP/WebSocket server, the embedded UI.
        .target(name: "SealpostWeb", dependencies: [
            "SealpostClient", "SealpostCore", "Sodium", "SQLite", "ZeroMQ",
            .product(name: "FlyingFox", package: "FlyingFox"),
            .product(name: "Logging", package: "swift-log"),
        ], resources: [
            // Compiled into the binary as byte arrays: the UI is never read from disk or the network.
            .embedInCode("UI/index.html"), .embedInCode("UI/app.js"), .embedInCode("UI/app.css"), .embedInCode("UI/icon.svg"),
        ]),
        // What the tests and the benchmark share: real nodes in temp directories, a fake peer
        // node, waits on conditions, percentiles, a seeded generator. No XCTest: it throws.
        .target(name: "SealpostTestSupport", dependencies: [
            "SealpostNode", "SealpostClient", "SealpostCore", "ZeroMQ", "Sodium",
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "sealpost-node", dependencies: [
            // SealpostClient for the trace tool's output (the same tree, DOT and SVG as `sealpost trace`).
            "SealpostNode", "SealpostCore", "SealpostClient",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "sealpost", dependencies: [
            "SealpostClient", "SealpostCore", "SealpostWeb",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "sealpost-bench", dependencies: [
            "SealpostNode", "SealpostClient", "SealpostCore", "SealpostTestSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "SodiumTests", dependencies: ["Sodium"]),
        .testTarget(name: "SQLiteTests", dependencies: ["SQLite"]),
        .testTarget(name: "SealpostCoreTests", dependencies: ["SealpostCore", "Sodium", "SealpostTestSupport"]),
        .testTarget(name: "SealpostNodeTests", dependencies: [
            "SealpostNode", "SealpostClient", "SealpostCore", "ZeroMQ", "Sodium", "SQLite", "SealpostTestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SealpostClientTests", dependencies: [
            "SealpostClient", "SealpostCore", "SealpostNode", "Sodium", "SealpostTestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SealpostWebTests", dependencies: [
            "SealpostWeb", "SealpostClient", "SealpostCore", "SealpostNode", "Sodium", "SQLite",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "EndToEndTests", dependencies: ["SealpostCore", "SealpostClient", "SealpostNode", "SealpostTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
