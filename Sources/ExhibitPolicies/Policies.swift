import ExhibitModel
import Foundation

/// Every policy file in a `Policies/` folder, loaded and validated together.
///
/// A server or a command refuses to start on a file that does not validate; the error names the file,
/// the line and the problem.
public struct Policies: Sendable {
    public var storage: StoragePolicy
    public var roles: RolesPolicy
    public var sharing: SharingPolicy
    public var retention: RetentionPolicy
    public var requests: RequestsPolicy
    public var custody: CustodyPolicy

    public init(storage: StoragePolicy = .default, roles: RolesPolicy = RolesPolicy(roles: [:]), sharing: SharingPolicy = .default,
                retention: RetentionPolicy = .default, requests: RequestsPolicy = .default, custody: CustodyPolicy = .default) {
        self.storage = storage
        self.roles = roles
        self.sharing = sharing
        self.retention = retention
        self.requests = requests
        self.custody = custody
    }

    /// Loads `storage.yaml`, `roles.yaml`, `sharing.yaml`, `retention.yaml` and (when there) `requests.yaml` and `custody.yaml` from
    /// `folder`.
    public static func load(from folder: String) throws(PolicyError) -> Policies {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PolicyError(file: folder, line: nil, "no policy folder here (pass --policies DIR or set EXHIBIT_POLICIES)")
        }
        let storage = try StoragePolicy.load(folder + "/storage.yaml")
        let roles = try RolesPolicy.load(folder + "/roles.yaml")
        let sharing = try SharingPolicy.load(folder + "/sharing.yaml")
        let retention = try RetentionPolicy.load(folder + "/retention.yaml")
        let requests = try RequestsPolicy.load(folder + "/requests.yaml")
        let custody = try CustodyPolicy.load(folder + "/custody.yaml")
        return Policies(storage: storage, roles: roles, sharing: sharing, retention: retention, requests: requests, custody: custody)
    }
}
