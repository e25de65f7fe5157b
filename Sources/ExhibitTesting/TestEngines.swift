import Foundation

/// The engines the tests run on. By default a store keeps its chunks under its storage root and its catalog in
/// SQLite there. With `EXHIBIT_TEST_CHUNKS=s3` every test store keeps its chunks in a real S3 store instead (a
/// single-node Ceph cluster with the RADOS Gateway, started once for the test process and stopped when it exits;
/// each store under a prefix of its own in one bucket); with `EXHIBIT_TEST_CATALOG=postgres` its catalog and
/// ledger in a real PostgreSQL server (started the same way; a database per store). The same tests then run on
/// both deployments (`make test` runs both).
public enum TestEngines {
    /// `EXHIBIT_TEST_CHUNKS`: `local` (default) or `s3`.
    public static let chunks: String = ProcessInfo.processInfo.environment["EXHIBIT_TEST_CHUNKS"] ?? "local"

    public static var usesS3: Bool { chunks == "s3" }

    /// `EXHIBIT_TEST_CATALOG`: `sqlite` (default) or `postgres`.
    public static let catalog: String = ProcessInfo.processInfo.environment["EXHIBIT_TEST_CATALOG"] ?? "sqlite"

    public static var usesPostgres: Bool { catalog == "postgres" }

    /// The PostgreSQL server of this test process (PostgreSQL mode only), started by the first test that asks,
    /// its password in the environment. The other tests await the same start (none blocks a thread on it).
    public static func postgresServer() async throws -> PostgresServer {
        try await engines.postgres()
    }

    public static let bucket = "exhibit-tests"

    /// The S3 keys of every gateway this test process starts, in its environment so `exhibit` processes find them.
    public static let keys: (access: String, secret: String) = {
        let access = "EXHIBITTEST" + String(UInt64.random(in: 0..<(1 << 40)), radix: 16, uppercase: true)
        let secret = (0..<40).map { _ in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".randomElement()! }
        setenv("AWS_ACCESS_KEY_ID", access, 1)
        setenv("AWS_SECRET_ACCESS_KEY", String(secret), 1)
        return (access, String(secret))
    }()

    /// A gateway of the test's own (to stop and start), with the test bucket and this process's keys.
    public static func startGateway() async throws -> CephGateway {
        try await CephGateway(buckets: [bucket], accessKey: keys.access, secretKey: keys.secret)
    }

    /// The gateway of this test process (S3 mode only), with the bucket made and the keys in the environment so
    /// the `exhibit` processes the tests start find them; started by the first test that asks.
    public static func sharedGateway() async throws -> CephGateway {
        try await engines.gateway()
    }

    static let engines = SharedEngines()

    /// Makes a new storage root keep its chunks and catalog where this test run wants them, recording them in its
    /// `deployment.json` before anything opens it: in S3 mode `s3://exhibit-tests/<unique prefix>` at the gateway
    /// (or at `ownGateway`), in PostgreSQL mode a new database of its own.
    public static func prepare(storage root: String, at ownGateway: CephGateway? = nil, postgres ownPostgres: PostgresServer? = nil) async throws {
        guard usesS3 || ownGateway != nil || usesPostgres || ownPostgres != nil else { return }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        var record: [String: String] = ["chunks": "local", "catalog": "sqlite"]
        if usesS3 || ownGateway != nil {
            let gateway: CephGateway = if let ownGateway { ownGateway } else { try await sharedGateway() }
            record["chunks"] = "s3://\(bucket)/\(UUID().uuidString.lowercased())"
            record["s3_endpoint"] = gateway.endpoint
            record["s3_region"] = "us-east-1"
        }
        if usesPostgres || ownPostgres != nil {
            let server: PostgresServer = if let ownPostgres { ownPostgres } else { try await postgresServer() }
            record["catalog"] = try await server.createDatabase()
        }
        let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        try data.write(to: URL(fileURLWithPath: root + "/deployment.json"))
    }
}

/// The engines one test process shares, each started once by the first test that needs it and stopped at exit.
actor SharedEngines {
    private var postgresStart: Task<PostgresServer, any Error>?
    private var gatewayStart: Task<CephGateway, any Error>?
    nonisolated(unsafe) static var running: (postgres: PostgresServer?, gateway: CephGateway?) = (nil, nil)

    func postgres() async throws -> PostgresServer {
        let start = postgresStart ?? Task {
            let server = try await PostgresServer()
            Self.running.postgres = server
            // Stopped and its data removed at exit: a static is never released, and a test run's PostgreSQL folder
            // holds gigabytes (runs had filled /tmp).
            atexit {
                SharedEngines.running.postgres?.stop()
                SharedEngines.running.postgres?.folder.remove()
            }
            setenv("PGPASSWORD", PostgresServer.password, 1)
            return server
        }
        postgresStart = start
        return try await start.value
    }

    func gateway() async throws -> CephGateway {
        let start = gatewayStart ?? Task {
            guard CephGateway.installed else {
                throw TestSupportError("EXHIBIT_TEST_CHUNKS=s3 needs Ceph (ceph-mon, ceph-osd, radosgw): run `make deps`")
            }
            let gateway = try await TestEngines.startGateway()
            Self.running.gateway = gateway
            atexit {
                SharedEngines.running.gateway?.stop()
                SharedEngines.running.gateway?.folder.remove()
            }
            return gateway
        }
        gatewayStart = start
        return try await start.value
    }
}
