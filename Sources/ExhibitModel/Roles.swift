/// A permission a role may hold (Policies/roles.yaml lists and explains them).
public enum Permission: String, Sendable, CaseIterable, Codable {
    case caseCreate = "case.create"
    case caseRead = "case.read"
    case caseMembers = "case.members"
    case exhibitUpload = "exhibit.upload"
    case exhibitRead = "exhibit.read"
    case exhibitDownload = "exhibit.download"
    case shareCreate = "share.create"
    case shareRevoke = "share.revoke"
    case custodyRead = "custody.read"
    case custodyCheckpoint = "custody.checkpoint"
    case userManage = "user.manage"
    case caseStatus = "case.status"
    case holdSet = "hold.set"
    case holdRelease = "hold.release"
    case retentionRead = "retention.read"
    case retentionApply = "retention.apply"
    case requestCreate = "request.create"
}

/// One role from Policies/roles.yaml.
public struct Role: Sendable, Equatable {
    public enum Scope: String, Sendable {
        /// Only cases the user created or was added to.
        case member
        /// Every case.
        case all
    }

    public let name: String
    public let description: String
    public let scope: Scope
    public let permissions: Set<Permission>

    public init(name: String, description: String, scope: Scope, permissions: Set<Permission>) {
        self.name = name
        self.description = description
        self.scope = scope
        self.permissions = permissions
    }

    public func can(_ permission: Permission) -> Bool { permissions.contains(permission) }

    /// A built-in role for the system itself (first-user bootstrap, background jobs).
    public static let system = Role(
        name: Actor.systemName, description: "Exhibit itself", scope: .all, permissions: Set(Permission.allCases))
}

