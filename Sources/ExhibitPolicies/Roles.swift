import CheckedInput
import Foundation
public import ExhibitModel
import Yams

/// `Policies/roles.yaml`.
public struct RolesPolicy: Sendable {
    public let roles: [String: Role]
    /// How long a token works after it is issued (nil: until it is revoked or reissued).
    public var tokenLifetime: Duration?
    /// How long a web app session lasts at most after signing in (`session_lifetime`, 12h unless set).
    public var sessionLifetime: Duration = .seconds(12 * 3600)
    /// How long a web app session lasts unused (`session_idle`, 30m unless set).
    public var sessionIdle: Duration = .seconds(30 * 60)

    public init(roles: [String: Role], tokenLifetime: Duration? = nil) {
        self.roles = roles
        self.tokenLifetime = tokenLifetime
    }

    public subscript(name: String) -> Role? { roles[name] }

    /// A built-in role for the system itself (first-user bootstrap, background jobs).
    public static var system: Role { Role.system }

    package static func load(_ path: String) throws(PolicyError) -> RolesPolicy {
        let document = try PolicyDocument(contentsOf: path)
        var top = try document.mapping()
        let rolesMap = try top.mapping("roles")
        var lifetime: Duration?
        if let node = top.valueNode("token_lifetime") {
            if node.string?.lowercased() == "indefinitely" {
                _ = top.take("token_lifetime")
            } else {
                lifetime = try top.duration("token_lifetime")
                guard let lifetime, lifetime >= .seconds(3600) else {
                    throw document.error(node, "token_lifetime: must be at least 1h, or indefinitely")
                }
            }
        }
        var sessionLifetime = Duration.seconds(12 * 3600)
        var sessionIdle = Duration.seconds(30 * 60)
        if top.valueNode("session_lifetime") != nil {
            sessionLifetime = try top.duration("session_lifetime")
            guard sessionLifetime >= .seconds(300) && sessionLifetime <= .seconds(7 * 86400) else {
                throw document.error(top.valueNode("session_lifetime"), "session_lifetime: must be between 5m and 7d")
            }
        }
        if top.valueNode("session_idle") != nil {
            sessionIdle = try top.duration("session_idle")
            guard sessionIdle >= .seconds(60) && sessionIdle <= sessionLifetime else {
                throw document.error(top.valueNode("session_idle"), "session_idle: must be between 1m and session_lifetime")
            }
        }
        try top.rejectUnknownKeys()
        var roles: [String: Role] = [:]
        for name in rolesMap.keys {
            guard ASCIIPattern(first: "a-z", rest: "a-z0-9-", lengths: 1...32).matches(name), name != Actor.systemName else {
                throw document.error(rolesMap.keyNode(name), "'\(name)' is not a valid role name (lowercase letters, digits, '-'; not 'system')")
            }
            var role = try PolicyMapping(node: rolesMap.valueNode(name)!, path: "roles.\(name)", document: document)
            let description = role.take("description").flatMap(\.string) ?? ""
            let scopeText = try role.string("scope")
            guard let scope = Role.Scope(rawValue: scopeText) else {
                throw document.error(role.valueNode("scope"), "roles.\(name).scope: '\(scopeText)' is not member or all")
            }
            var permissions = Set<Permission>()
            for text in try role.stringList("permissions") {
                guard let permission = Permission(rawValue: text) else {
                    throw document.error(role.valueNode("permissions"), "roles.\(name).permissions: unknown permission '\(text)'")
                }
                permissions.insert(permission)
            }
            try role.rejectUnknownKeys()
            roles[name] = Role(name: name, description: description, scope: scope, permissions: permissions)
        }
        guard !roles.isEmpty else { throw document.error(rolesMap.node, "roles: at least one role is needed") }
        var policy = RolesPolicy(roles: roles, tokenLifetime: lifetime)
        policy.sessionLifetime = sessionLifetime
        policy.sessionIdle = sessionIdle
        return policy
    }
}
