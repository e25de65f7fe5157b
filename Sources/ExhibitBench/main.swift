import Foundation

// `make bench`: every row beside a reference run on the same machine, in the same invocation.
//
// Usage: exhibit-bench [--runs N] [--only SECTION,...]
// Sections: ingest, probe, ledger, tlog, backups, http, links, copies, s3, uploads

var runs = 3
var only: Set<String>?
var arguments = CommandLine.arguments.dropFirst()
// The bench starts itself again as the bare Hummingbird reference server (BareHummingbird.swift).
if arguments.first == "--bare-hummingbird", let port = Int(arguments.dropFirst().first ?? "") {
    try await BareHummingbird.serve(port: port)
    exit(0)
}
// `make load`: the Swift load generator (LoadBench.swift).
if arguments.first == "--load" {
    exit(await LoadBench.main(Array(arguments.dropFirst())))
}
while let argument = arguments.popFirst() {
    switch argument {
    case "--runs": runs = Int(arguments.popFirst() ?? "") ?? runs
    case "--only": only = Set((arguments.popFirst() ?? "").split(separator: ",").map(String.init))
    default:
        FileHandle.standardError.write(Data("usage: exhibit-bench [--runs N] [--only ingest,probe,ledger,tlog,backups,http,links,web,copies,s3,uploads]\n".utf8))
        exit(2)
    }
}

let root = FileManager.default.currentDirectoryPath
let benchDir = root + "/.build/bench"
try? FileManager.default.createDirectory(atPath: benchDir + "/disk", withIntermediateDirectories: true)
let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
let exhibit = binDir + "/exhibit"
let policies = root + "/Policies"

let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
    .split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last?
    .trimmingCharacters(in: .whitespaces) ?? "?"
print("# Exhibit bench — \(ISO8601DateFormatter().string(from: Date()))")
print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores (\(cpu)), "
    + "\(ProcessInfo.processInfo.physicalMemory >> 30) GiB")

@MainActor func wanted(_ section: String) -> Bool { only?.contains(section) ?? true }

if wanted("ingest") {
    for table in IngestBench(benchDir: benchDir, exhibit: exhibit, policies: policies, runs: runs).run() {
        table.print()
    }
}
if wanted("http") {
    for table in try HTTPBench(
        benchDir: benchDir, exhibit: exhibit, policies: policies,
        nginxTemplate: root + "/Sources/ExhibitBench/nginx.conf.template", runs: runs
    ).run() {
        table.print()
    }
}
if wanted("uploads") {
    try OpenUploadsBench(benchDir: benchDir, exhibit: exhibit, policies: policies).run().print()
}
if wanted("s3") {
    try await ObjectStoreBench(
        benchDir: benchDir, exhibit: exhibit, policies: policies, python: root + "/.build/py-venv/bin/python", runs: runs
    ).run().print()
}
if wanted("links") {
    try LinkBench(
        benchDir: benchDir, exhibit: exhibit, policies: policies,
        nginxTemplate: root + "/Sources/ExhibitBench/nginx.conf.template", seconds: 10
    ).run().print()
}
if wanted("web") {
    try WebBench(benchDir: benchDir, exhibit: exhibit, policies: policies, seconds: 10).run().print()
}
if wanted("copies") {
    try WorkingCopyBench(benchDir: benchDir, runs: runs).run().print()
}
if wanted("probe") {
    ProbeBench(fixtures: root + "/Tests/Fixtures", runs: 20).run().print()
}
if wanted("tlog") {
    for table in try await TransparencyLogBench(benchDir: benchDir, exhibit: exhibit, policies: policies, sizes: [1000, 100_000, 1_000_000]).run() {
        table.print()
    }
}
if wanted("backups") {
    try BackupBench(benchDir: benchDir, exhibit: exhibit, policies: policies).run().print()
}
if wanted("ledger") {
    try await LedgerBench(benchDir: benchDir, appends: 3000, verifyEvents: 200_000).run().print()
}
