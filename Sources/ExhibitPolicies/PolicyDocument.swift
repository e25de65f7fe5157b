import ExhibitModel
import Foundation
import CheckedInput
import Yams

/// A YAML policy file read as a tree that remembers line numbers, so every complaint names its line.
///
/// Readers take the keys they know with `take` and finish with `rejectUnknownKeys()`, so a misspelt key is an
/// error rather than a silently ignored setting.
struct PolicyDocument {
    let file: String
    let root: Node

    init(contentsOf path: String) throws(PolicyError) {
        self.file = path
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PolicyError(file: path, line: nil, "cannot read the file (\(error.localizedDescription))")
        }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw PolicyError(file: path, line: nil, "the file is empty")
            }
            self.root = node
        } catch let error as PolicyError {
            throw error
        } catch let error as YamlError {
            throw PolicyError(file: path, line: Self.line(of: error), "not valid YAML: \(Self.reason(of: error))")
        } catch {
            throw PolicyError(file: path, line: nil, "not valid YAML: \(error)")
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }

    private static func reason(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        default:
            return "\(error)"
        }
    }

    func error(_ node: Node?, _ message: String) -> PolicyError {
        PolicyError(file: file, line: node?.mark?.line, message)
    }

    func mapping(_ path: String = "(top level)") throws(PolicyError) -> PolicyMapping {
        try PolicyMapping(node: root, path: path, document: self)
    }
}

/// One YAML mapping of a policy file being read.
struct PolicyMapping {
    let node: Node
    let path: String
    let document: PolicyDocument
    private var taken: Set<String> = []
    private let pairs: [(key: String, keyNode: Node, value: Node)]

    init(node: Node, path: String, document: PolicyDocument) throws(PolicyError) {
        guard case .mapping(let mapping) = node else {
            throw document.error(node, "\(path) must be a mapping of keys to values")
        }
        var pairs: [(String, Node, Node)] = []
        var seen = Set<String>()
        for (key, value) in mapping {
            guard let name = key.string else { throw document.error(key, "\(path): keys must be text") }
            guard seen.insert(name).inserted else { throw document.error(key, "\(path): '\(name)' appears twice") }
            pairs.append((name, key, value))
        }
        self.node = node
        self.path = path
        self.document = document
        self.pairs = pairs
    }

    func qualified(_ key: String) -> String { path == "(top level)" ? key : "\(path).\(key)" }

    /// The value under `key`, or `nil` when absent.
    mutating func take(_ key: String) -> Node? {
        taken.insert(key)
        return pairs.first { $0.key == key }?.value
    }

    mutating func require(_ key: String) throws(PolicyError) -> Node {
        guard let value = take(key) else { throw document.error(node, "\(qualified(key)) is missing") }
        return value
    }

    mutating func mapping(_ key: String) throws(PolicyError) -> PolicyMapping {
        try PolicyMapping(node: require(key), path: qualified(key), document: document)
    }

    /// All keys in file order (for maps whose keys are names, like roles).
    var keys: [String] { pairs.map(\.key) }

    func keyNode(_ key: String) -> Node? { pairs.first { $0.key == key }?.keyNode }

    func valueNode(_ key: String) -> Node? { pairs.first { $0.key == key }?.value }

    /// Refuses the value of `key` with `message` unless `ok`, naming the setting and its line.
    func check(_ ok: Bool, _ key: String, _ message: String) throws(PolicyError) {
        if !ok { throw document.error(valueNode(key), "\(qualified(key)): \(message)") }
    }

    func rejectUnknownKeys() throws(PolicyError) {
        for pair in pairs where !taken.contains(pair.key) {
            throw document.error(pair.keyNode, "unknown setting '\(qualified(pair.key))'")
        }
    }

    // MARK: Scalars

    mutating func size(_ key: String) throws(PolicyError) -> Int64 {
        let value = try require(key)
        guard let text = value.string, let bytes = ByteSize.parse(text) else {
            throw document.error(value, "\(qualified(key)): '\(value.string ?? "?")' is not a size (e.g. 256KiB, 1MiB, 64GiB)")
        }
        return bytes
    }

    mutating func duration(_ key: String) throws(PolicyError) -> Duration {
        let value = try require(key)
        guard let text = value.string else {
            throw document.error(value, "\(qualified(key)): '\(value.string ?? "?")' is not a duration (e.g. 30s, 15m, 72h, 31d)")
        }
        do {
            return try InputDuration.parse(text, field: qualified(key))
        } catch {
            throw document.error(value, error.description)
        }
    }

    mutating func integer(_ key: String) throws(PolicyError) -> Int {
        let value = try require(key)
        guard let number = value.int else {
            throw document.error(value, "\(qualified(key)): '\(value.string ?? "?")' is not a whole number")
        }
        return number
    }

    mutating func bool(_ key: String) throws(PolicyError) -> Bool {
        let value = try require(key)
        guard let flag = value.bool else {
            throw document.error(value, "\(qualified(key)): '\(value.string ?? "?")' is not true or false")
        }
        return flag
    }

    mutating func string(_ key: String) throws(PolicyError) -> String {
        let value = try require(key)
        guard case .scalar = value, let text = value.string else {
            throw document.error(value, "\(qualified(key)) must be text")
        }
        return text
    }

    mutating func stringList(_ key: String) throws(PolicyError) -> [String] {
        let value = try require(key)
        guard case .sequence(let sequence) = value else {
            throw document.error(value, "\(qualified(key)) must be a list")
        }
        var out: [String] = []
        for item in sequence {
            guard case .scalar = item, let text = item.string else {
                throw document.error(item, "\(qualified(key)): every item must be text")
            }
            out.append(text)
        }
        return out
    }
}
