// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The two modules whose loops run over every byte and every packet (chunking, probing) are optimised in debug
/// builds too: the test suite chunks gigabytes and probes thousands of files, and at -Onone those loops took about
/// twice the time (a raw H.264 probe 87 ms instead of 41). The rest stays -Onone, for the debugger.
let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "exhibit",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "exhibit", targets: ["exhibit"]),
        .executable(name: "exhibit-bench", targets: ["ExhibitBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // C shims over system libraries.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),

        .systemLibrary(name: "CLinux"),
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat libavcodec libavutil libswscale libswresample",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev", "libswresample-dev"])]
        ),

        // Values from outside (times, durations, sizes, names) parsed into checked ranges; no dependencies.
        .target(
            name: "CheckedInput",
            swiftSettings: swiftSettings
        ),

        // Domain modules.
        .target(
            name: "ExhibitCrypto",
            dependencies: ["COpenSSL"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "S3Store",
            dependencies: [
                "BlobStore", "ExhibitCrypto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BlobStore",
            dependencies: [
                "ExhibitCrypto",
                "CLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings + optimisedInDebug
        ),

        .target(
            name: "MediaProbe",
            dependencies: [
                "CFFmpeg",
                "CheckedInput",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings + optimisedInDebug
        ),

        .target(
            name: "Custody",
            dependencies: ["ExhibitCrypto", "CheckedInput"],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "ShareLinks",
            dependencies: ["ExhibitCrypto"],
            swiftSettings: swiftSettings
        ),

        // The application, by layer (README, "Design"): each module imports only those above it.
        // Records, ids, states and errors: what every layer speaks. No drivers, no YAML.
        .target(
            name: "ExhibitModel",
            dependencies: ["CheckedInput", "Custody", "ExhibitCrypto", "MediaProbe", "BlobStore"],
            swiftSettings: swiftSettings
        ),
        // Policies/*.yaml, parsed and checked (Yams stays here).
        .target(
            name: "ExhibitPolicies",
            dependencies: [
                "ExhibitModel", "CheckedInput", "BlobStore", "MediaProbe", "Custody",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The catalog and the custody ledger's storage, written once over a small session protocol.
        .target(
            name: "ExhibitCatalog",
            dependencies: [
                "ExhibitModel", "Custody", "ExhibitCrypto", "MediaProbe", "BlobStore",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The two database drivers: sessions, frozen migrations, and what only that database does.
        .target(
            name: "CatalogSQLite",
            dependencies: [
                "ExhibitCatalog", "ExhibitModel",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CatalogPostgres",
            dependencies: [
                "ExhibitCatalog", "ExhibitModel", "BlobStore", "Custody", "ExhibitCrypto",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The use-cases (store, uploads, retention, sharing, scrub, working copies): no driver imports.
        .target(
            name: "Exhibit",
            dependencies: [
                "ExhibitModel",
                "ExhibitPolicies",
                "ExhibitCatalog",
                "CheckedInput",
                "BlobStore",
                "MediaProbe",
                "Custody",
                "ShareLinks",
                "S3Store",
                "ExhibitCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Chooses the backends a storage root records (the only module that knows both drivers).
        .target(
            name: "ExhibitDeployment",
            dependencies: [
                "Exhibit", "ExhibitModel", "ExhibitPolicies", "ExhibitCatalog", "CatalogSQLite", "CatalogPostgres", "BlobStore",
                "S3Store", "ExhibitCrypto", "Custody",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Shells.
        .target(
            name: "ExhibitServer",
            dependencies: [
                "Exhibit", "ExhibitModel", "ExhibitPolicies", "ExhibitDeployment",
                "CheckedInput",
                "BlobStore",
                "MediaProbe",
                "Custody",
                "ExhibitCrypto",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("openapi.yaml"), .copy("Web/Templates"), .copy("Web/Static")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ExhibitCLI",
            dependencies: [
                "Exhibit", "ExhibitModel", "ExhibitPolicies", "ExhibitDeployment",
                "CheckedInput", "CLinux",
                "ExhibitServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                "MediaProbe",
                "Custody",
                "BlobStore",
                "ExhibitCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "exhibit",
            dependencies: ["ExhibitCLI"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ExhibitBench",
            dependencies: [
                "Exhibit", "ExhibitModel", "ExhibitPolicies", "ExhibitDeployment", "ExhibitCatalog", "CatalogSQLite",
                "MediaProbe",
                "Custody",
                "BlobStore",
                "ExhibitCrypto",
                "ExhibitTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["nginx.conf.template"],
            swiftSettings: swiftSettings
        ),

        // Test support shared by every test target.
        .target(
            name: "ExhibitTesting",
            dependencies: ["ExhibitCrypto"],
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "CheckedInputTests",
            dependencies: ["CheckedInput", "Custody", "MediaProbe", "Exhibit", "ExhibitModel", "ExhibitPolicies", "ExhibitTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExhibitCryptoTests",
            dependencies: ["ExhibitCrypto", "ExhibitTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BlobStoreTests",
            dependencies: [
                "BlobStore", "ExhibitCrypto", "ExhibitTesting",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "S3StoreTests",
            dependencies: [
                "S3Store", "BlobStore", "ExhibitCrypto", "ExhibitTesting",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ShareLinksTests",
            dependencies: ["ShareLinks", "ExhibitCrypto", "ExhibitTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CustodyTests",
            dependencies: ["Custody", "ExhibitCrypto", "ExhibitTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MediaProbeTests",
            dependencies: ["MediaProbe", "ExhibitTesting", "exhibit"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExhibitCatalogTests",
            dependencies: [
                "ExhibitCatalog", "CatalogSQLite", "CatalogPostgres", "ExhibitModel", "Custody", "ExhibitCrypto", "ExhibitTesting",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExhibitServerTests",
            dependencies: [
                "exhibit", "ExhibitServer", "Exhibit", "ExhibitModel", "ExhibitPolicies", "ExhibitDeployment", "ExhibitCrypto", "ExhibitTesting", "Custody", "BlobStore", "MediaProbe",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ExhibitCLITests",
            dependencies: ["exhibit", "Exhibit", "ExhibitModel", "ExhibitPolicies", "ExhibitDeployment", "BlobStore", "ExhibitCrypto", "ExhibitTesting", "Custody"],
            swiftSettings: swiftSettings
        ),
    ]
)
