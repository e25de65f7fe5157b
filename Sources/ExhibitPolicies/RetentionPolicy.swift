public import ExhibitModel
import CheckedInput
public import Foundation
import MediaProbe
import Yams
import Custody

/// A retention period in calendar units: `31d`, `6mo`, `30y`, `26w`, `72h`, or `indefinitely`.
///
/// Months and years are calendar months and years in UTC (6 months after 31 August is 28 or 29 February), as a
/// court or the CPIA code counts them, not multiples of 30 or 365 days.
public enum RetentionPeriod: Sendable, Equatable, CustomStringConvertible {
    case indefinitely
    case after(DateComponents)

    public static func parse(_ text: String) -> RetentionPeriod? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if trimmed == "indefinitely" || trimmed == "forever" { return .indefinitely }
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 6, let number = Int(digits) else { return nil }
        var components = DateComponents()
        switch trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces) {
        case "h": components.hour = number
        case "d": components.day = number
        case "w": components.day = number * 7
        case "mo": components.month = number
        case "y": components.year = number
        default: return nil
        }
        return .after(components)
    }

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// The end of the period started at `start` (nil: never).
    public func end(from start: Date) -> Date? {
        switch self {
        case .indefinitely: return nil
        case .after(let components): return Self.calendar.date(byAdding: components, to: start)
        }
    }

    public var description: String {
        switch self {
        case .indefinitely: return "indefinitely"
        case .after(let c):
            if let y = c.year { return "\(y)y" }
            if let m = c.month { return "\(m)mo" }
            if let d = c.day { return d % 7 == 0 && d > 0 ? "\(d / 7)w" : "\(d)d" }
            return "\(c.hour ?? 0)h"
        }
    }
}

/// `Policies/retention.yaml`: how long footage is kept after a case's outcome (README, "Retention").
public struct RetentionPolicy: Sendable {
    /// One rule: keep for `keep` from the date `from` names.
    public struct RetentionClass: Sendable, Equatable {
        public enum Start: String, Sendable, CaseIterable {
            /// The date the case took its current status (`--at`).
            case status
            /// The release date given with a conviction; the conviction's date when none was given.
            case release
            /// The date the case was opened in Exhibit.
            case opened
        }

        public let name: String
        public let keep: RetentionPeriod
        public let from: Start
        public let description: String
    }

    public var classes: [String: RetentionClass]
    /// The class each case status puts its exhibits in.
    public var statuses: [CaseStatus: String]
    /// How long exhibits wait in pending deletion (restorable) before they are purged.
    public var gracePeriod: RetentionPeriod
    /// How often the server writes the plan.
    public var planEvery: Duration
    /// Whether the server applies the plan itself (as `system`), or only writes it.
    public var autoApply: Bool

    public static let `default` = RetentionPolicy(
        classes: [
            "active": RetentionClass(name: "active", keep: .indefinitely, from: .status, description: ""),
            "default": RetentionClass(name: "default", keep: .after(DateComponents(year: 6)), from: .status, description: ""),
        ],
        statuses: Dictionary(uniqueKeysWithValues: CaseStatus.allCases.map { ($0, $0 == .closed ? "default" : "active") }),
        gracePeriod: .after(DateComponents(day: 30)), planEvery: .seconds(86400), autoApply: false)

    static func load(_ path: String) throws(PolicyError) -> RetentionPolicy {
        let document = try PolicyDocument(contentsOf: path)
        var top = try document.mapping()

        func period(_ mapping: inout PolicyMapping, _ key: String, allowIndefinite: Bool) throws(PolicyError) -> RetentionPeriod {
            let node = try mapping.require(key)
            guard case .scalar = node, let text = node.string else {
                throw document.error(node, "\(mapping.qualified(key)) must be a period such as 31d, 6mo or 30y")
            }
            if text.trimmingCharacters(in: .whitespaces).hasPrefix("-") {
                throw document.error(node, "\(mapping.qualified(key)): '\(text)' is negative; a period is 0 or more (e.g. 31d, 6mo, 30y)")
            }
            guard let value = RetentionPeriod.parse(text) else {
                throw document.error(node, "\(mapping.qualified(key)): '\(text)' is not a period (e.g. 72h, 31d, 26w, 6mo, 30y\(allowIndefinite ? ", indefinitely" : ""))")
            }
            if value == .indefinitely && !allowIndefinite {
                throw document.error(node, "\(mapping.qualified(key)) cannot be indefinitely")
            }
            return value
        }

        let grace = try period(&top, "grace_period", allowIndefinite: false)
        let planEvery = try top.duration("plan_every")
        if planEvery < .seconds(60) || planEvery > .seconds(31 * 86400) {
            throw document.error(top.valueNode("plan_every"), "plan_every must be between 1m and 31d")
        }
        let autoApply = try top.bool("auto_apply")

        var classesMap = try top.mapping("classes")
        var classes: [String: RetentionClass] = [:]
        for name in classesMap.keys {
            guard ASCIIPattern(first: "a-z", rest: "a-z0-9-", lengths: 1...40).matches(name) else {
                throw document.error(classesMap.keyNode(name), "'\(name)' is not a valid class name (lowercase letters, digits, '-')")
            }
            var rule = try classesMap.mapping(name)
            let keep = try period(&rule, "keep", allowIndefinite: true)
            var from = RetentionClass.Start.status
            if let node = rule.take("from") {
                guard let text = node.string, let start = RetentionClass.Start(rawValue: text) else {
                    throw document.error(node, "classes.\(name).from: '\(node.string ?? "?")' is not one of \(RetentionClass.Start.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                from = start
            }
            let description = rule.take("description").flatMap(\.string) ?? ""
            try rule.rejectUnknownKeys()
            classes[name] = RetentionClass(name: name, keep: keep, from: from, description: description)
        }
        try classesMap.rejectUnknownKeys()
        guard !classes.isEmpty else { throw document.error(classesMap.node, "classes: at least one class is needed") }

        var statusMap = try top.mapping("statuses")
        var statuses: [CaseStatus: String] = [:]
        for name in statusMap.keys {
            guard let status = CaseStatus(rawValue: name) else {
                throw document.error(statusMap.keyNode(name), "statuses: unknown status '\(name)' (statuses: \(CaseStatus.list))")
            }
            let node = statusMap.take(name)!
            guard let className = node.string, case .scalar = node else {
                throw document.error(node, "statuses.\(name) must name a class")
            }
            guard classes[className] != nil else {
                throw document.error(node, "statuses.\(name): unknown class '\(className)' (classes: \(classes.keys.sorted().joined(separator: ", ")))")
            }
            statuses[status] = className
        }
        for status in CaseStatus.allCases where statuses[status] == nil {
            throw document.error(statusMap.node, "statuses: no class for '\(status.rawValue)' (every status needs one: \(CaseStatus.list))")
        }
        try top.rejectUnknownKeys()
        return RetentionPolicy(classes: classes, statuses: statuses, gracePeriod: grace, planEvery: planEvery, autoApply: autoApply)
    }

    // MARK: Deadlines

    /// When a case's exhibits are due for deletion, and why.
    public typealias Deadline = RetentionDeadline

    /// A case's deadline: the latest of the rules that apply — its status's class, and when it is closed the class
    /// of the outcome before it, and its own class (e.g. `major-crime`) when it has one. A rule kept indefinitely
    /// means no deadline at all.
    public func deadline(for record: CaseRecord, history: [CaseStatusChange]) -> Deadline {
        var applied: [(RetentionClass, Date, String)] = []
        var reasons: [String] = []
        var never = false
        func name(_ status: String, _ rule: RetentionClass) -> String {
            status == rule.name ? status : status == "class" ? "class \(rule.name)" : "\(status) (class \(rule.name))"
        }
        func apply(_ className: String, status: String, at: String?, release: String?) {
            guard let rule = classes[className] else {
                reasons.append("class '\(className)' is not in Policies/retention.yaml: kept until it is")
                never = true
                return
            }
            if rule.keep == .indefinitely {
                reasons.append("\(name(status, rule)): kept indefinitely")
                never = true
                return
            }
            let startText: String?
            switch rule.from {
            case .status: startText = at
            case .release: startText = release ?? at
            case .opened: startText = record.createdAt
            }
            guard let startText, let start = CustodyTime.parse(startText), let end = rule.keep.end(from: start) else {
                reasons.append("\(name(status, rule)): no start date: kept")
                never = true
                return
            }
            let label = rule.from == .release && release == nil ? "conviction" : rule.from.rawValue
            reasons.append("\(name(status, rule)): \(rule.keep) from \(label) \(startText)")
            applied.append((rule, end, startText))
        }
        let status = record.status
        apply(statuses[status] ?? "?", status: status.rawValue, at: record.statusAt ?? record.createdAt, release: record.releaseDate)
        if status == .closed, let outcome = history.last(where: { $0.status.isOutcome }) {
            apply(statuses[outcome.status] ?? "?", status: outcome.status.rawValue, at: outcome.at, release: outcome.releaseDate)
        }
        if let extra = record.retentionClass {
            apply(extra, status: "class", at: record.statusAt ?? record.createdAt, release: record.releaseDate)
        }
        let because = reasons.joined(separator: "; ")
        if never { return Deadline(date: nil, because: because) }
        let latest = applied.map(\.1).max()!
        return Deadline(date: CustodyTime.string(latest), because: because)
    }
}
