import Foundation
import HTTPTypes

/// The API's paths and the methods each takes, read from the served OpenAPI document, so that a known path
/// asked with another method answers 405 with `Allow` (RFC 9110 §15.5.6) instead of 404.
struct RouteTable: Sendable {
    struct Route: Sendable {
        let segments: [Substring]
        var methods: [String]

        func matches(_ path: [Substring]) -> Bool {
            guard path.count == segments.count else { return false }
            return zip(segments, path).allSatisfy { template, part in
                (template.hasPrefix("{") && template.hasSuffix("}") && !part.isEmpty) || template == part
            }
        }
    }

    let routes: [Route]

    /// Reads `paths:` of an OpenAPI document written as Exhibit's is: each path at two spaces, each method at four.
    init(openAPI: String) {
        var routes: [Route] = []
        var inPaths = false
        let methods: Set<Substring> = ["get", "put", "post", "delete", "patch", "head", "options"]
        for line in openAPI.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if let first = line.first, first != " " && first != "#" { break }
            if line.hasPrefix("  /") && !line.hasPrefix("   ") && line.hasSuffix(":") {
                let path = line.dropFirst(2).dropLast()
                routes.append(Route(segments: path.split(separator: "/"), methods: []))
            } else if line.hasPrefix("    ") && !line.hasPrefix("     "), let colon = line.firstIndex(of: ":") {
                let name = line.dropFirst(4)[..<colon]
                if methods.contains(name), !routes.isEmpty { routes[routes.count - 1].methods.append(name.uppercased()) }
            }
        }
        self.routes = routes
    }

    /// When a path matches no route but would, with some of its segments joined back by `/`, it almost surely holds
    /// a case or exhibit reference (`2017/MPS/0421`, `JS/1`) whose slashes were not percent-encoded: say so.
    func slashHint(for path: String) -> String? {
        let parts = path.split(separator: "/")
        guard parts.count > 2, parts.first == "v1" else { return nil }
        for route in routes where route.segments.count < parts.count && route.segments.count >= 2 {
            // Join runs of extra segments into one parameter, wherever the template has one.
            let extra = parts.count - route.segments.count
            for (i, template) in route.segments.enumerated() where template.hasPrefix("{") {
                var joined = Array(parts[..<i])
                joined.append(parts[i...(i + extra)].joined(separator: "/")[...])
                joined += parts[(i + extra + 1)...]
                if route.matches(joined) {
                    let value = parts[i...(i + extra)].joined(separator: "/")
                    let encoded = value.replacingOccurrences(of: "/", with: "%2F")
                    return "no such route: '\(value)' holds '/', which splits the path; percent-encode it (\(encoded)) or use the record's id (case_…, ex_…)"
                }
            }
        }
        return nil
    }

    /// The methods a path takes, when the document has it (nil: no such path).
    func methods(for path: String) -> [String]? {
        let parts = path.split(separator: "/")
        guard let route = routes.first(where: { $0.matches(parts) }) else { return nil }
        var methods = route.methods
        if methods.contains("GET") && !methods.contains("HEAD") { methods.append("HEAD") }
        return methods
    }
}
