import Foundation

/// A single-node Ceph cluster with the RADOS Gateway from Debian's packages (`Tests/Tools/ceph-rgw.sh`): a real
/// S3 implementation, no mock. Stopped by PID when released.
public final class CephGateway: @unchecked Sendable {
    // Set once in init, read-only after.
    public let folder: TemporaryDirectory
    public let endpoint: String
    public let access: String
    public let secret: String

    public static var installed: Bool {
        ["/usr/bin/ceph-mon", "/usr/bin/ceph-osd", "/usr/bin/radosgw", "/usr/bin/radosgw-admin"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// Starts a cluster and its gateway, with `buckets` made and a user with the given S3 keys (made up when nil).
    public init(buckets: [String] = [], accessKey: String? = nil, secretKey: String? = nil) async throws {
        let folder = try TemporaryDirectory("ceph")
        self.folder = folder
        // Through /bin/sh with waitpid on its pid: the daemons it starts outlive it (and Foundation's Process would
        // wait for them too), and its output goes to files, not pipes they could hold open.
        let out = folder.appending("start.out"), err = folder.appending("start.err")
        let keys = (accessKey.map { "RGW_ACCESS_KEY='\($0)' " } ?? "") + (secretKey.map { "RGW_SECRET_KEY='\($0)' " } ?? "")
        let status = await Self.shell(keys + "'\(TestPaths.packageRoot)/Tests/Tools/ceph-rgw.sh' start '\(folder.appending("cluster"))' \(buckets.joined(separator: " ")) > '\(out)' 2> '\(err)' < /dev/null")
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard status == 0, let line = text.split(separator: "\n").last(where: { $0.hasPrefix("endpoint=") }) else {
            throw TestSupportError("the Ceph gateway did not start: \(((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").suffix(2000))")
        }
        var fields: [String: String] = [:]
        for part in line.split(separator: " ") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
        }
        endpoint = fields["endpoint"] ?? ""
        access = fields["access"] ?? ""
        secret = fields["secret"] ?? ""
    }

    /// Runs a shell command and waits, off the cooperative pool, for that shell alone; returns its exit status.
    public static func shell(_ command: String) async -> Int32 {
        await offPool { blockingShell(command) }
    }

    /// `shell` on the calling thread (for deinit and atexit).
    static func blockingShell(_ command: String) -> Int32 {
        var pid: pid_t = 0
        let arguments = ["/bin/sh", "-c", command]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // The shell starts daemons that outlive it: they must not inherit the test process's descriptors (pipes
        // a test reads to their end, the socket Foundation's Process watches to see its child exit), or those never
        // close while the daemon runs, and tests elsewhere in the process wait forever.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        guard let closeFrom = Self.addCloseFrom, closeFrom(&actions, 3) == 0 else { return -1 }
        guard posix_spawn(&pid, "/bin/sh", &actions, nil, &argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xff
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; Swift's Glibc module does not
    /// declare it): closes every descriptor from the given one up in the child.
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    static let addCloseFrom: AddCloseFrom? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: AddCloseFrom.self) }

    /// Kills the gateway alone (the cluster stays): requests to the endpoint are refused until `startGateway`.
    public func stopGateway() async {
        _ = await Self.shell("'\(TestPaths.packageRoot)/Tests/Tools/ceph-rgw.sh' stop-gateway '\(folder.appending("cluster"))' > /dev/null 2>&1 < /dev/null")
    }

    /// Starts the gateway again on its port and waits until it answers.
    public func startGateway() async throws {
        let status = await Self.shell("'\(TestPaths.packageRoot)/Tests/Tools/ceph-rgw.sh' start-gateway '\(folder.appending("cluster"))' > /dev/null 2>&1 < /dev/null")
        guard status == 0 else { throw TestSupportError("the gateway did not come back") }
    }

    /// Stops the cluster's daemons by the PIDs it recorded.
    public func stop() {
        _ = Self.blockingShell("'\(TestPaths.packageRoot)/Tests/Tools/ceph-rgw.sh' stop '\(folder.appending("cluster"))' > /dev/null 2>&1 < /dev/null")
    }

    deinit { stop() }
}

