import Foundation
import Glibc
import SealpostTestSupport
import XCTest

/// Runs the built executables (`sealpost-node`, `sealpost`) as a person would.
enum Harness {
    /// The directory holding the executables: `SEALPOST_BIN`, else next to the test bundle.
    static let binDir: String = {
        if let env = ProcessInfo.processInfo.environment["SEALPOST_BIN"], !env.isEmpty { return env }
        var url = Bundle(for: Marker.self).bundleURL
        while url.path != "/" {
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("sealpost-node").path) { return url.path }
            url.deleteLastPathComponent()
        }
        return ".build/debug"
    }()

    final class Marker {}

    static func path(_ tool: String) throws -> String {
        let p = binDir + "/" + tool
        guard FileManager.default.isExecutableFile(atPath: p) else {
            throw XCTSkip("no \(p): build the executables first (swift build)")
        }
        return p
    }

    /// A failure a test may catch; uncaught, XCTest fails the test with its text.
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    /// Runs a tool to completion (killed after `timeout` seconds).
    @discardableResult
    static func run(_ tool: String, _ args: [String], cwd: String? = nil, env: [String: String] = [:], timeout: Double = 60) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try path(tool))
        process.arguments = args
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        // Output goes to files: nothing to drain while it runs, and no shared state.
        let base = NSTemporaryDirectory() + "sealpost-run-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        let out = FileHandle(forWritingAtPath: base + ".out")!, err = FileHandle(forWritingAtPath: base + ".err")!
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            XCTFail("\(tool) \(args.joined(separator: " ")) did not finish in \(timeout) s")
        }
        process.waitUntilExit()
        try? out.close()
        try? err.close()
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
    }

    /// A free loopback TCP port (bound to 0 and read back, then released).
    static func freePort() -> Int { SealpostTestSupport.freePort() }
}

/// A test case with a fresh temporary folder `root` for its nodes and profiles, removed
/// after each test.
class TempRootTestCase: XCTestCase {
    /// The folder's name before its UUID, so a left-over folder says which tests made it.
    class var rootPrefix: String { "sealpost-e2e" }
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "\(Self.rootPrefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// `sealpost-node init` of node `name` in `root/name` on free ports, running, with each of
    /// `users` joined (profile `root/USER`). Stop the returned process at the end.
    func runningNode(_ name: String, users: [String]) throws -> (node: NodeProcess, data: String) {
        let data = root + "/" + name
        let created = try Harness.run("sealpost-node", ["init", "--data", data, "--name", name, "--listen", "tcp://127.0.0.1:\(Harness.freePort())",
                                                        "--publish", "tcp://127.0.0.1:\(Harness.freePort())"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let node = try NodeProcess(data: data)
        try node.waitUntilListening()
        for user in users {
            let code = try Harness.run("sealpost-node", ["invite", "--data", data, user]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(try Harness.run("sealpost", ["join", code, "--profile", root + "/" + user]).status, 0)
        }
        return (node, data)
    }
}

/// A running node of a federation made by `startFederation`.
struct FederatedNode {
    var data: String
    var process: NodeProcess
    /// `sealpost-node info --json`: name, router, publish, public_key, sign_key.
    var info: [String: Any]
}

extension TempRootTestCase {
    /// Nodes `names` (data at ROOT/NAME) on free loopback ports, running, each a configured peer of every other.
    func startFederation(_ names: [String]) throws -> [FederatedNode] {
        var nodes: [FederatedNode] = []
        for name in names {
            let data = root + "/" + name
            let created = try Harness.run("sealpost-node", ["init", "--data", data, "--name", name,
                                                            "--listen", "tcp://127.0.0.1:\(Harness.freePort())",
                                                            "--publish", "tcp://127.0.0.1:\(Harness.freePort())"])
            XCTAssertEqual(created.status, 0, created.stderr)
            let process = try NodeProcess(data: data)
            try process.waitUntilListening()
            let info = try Harness.run("sealpost-node", ["info", "--json", "--data", data]).lines[0]
            nodes.append(FederatedNode(data: data, process: process,
                                       info: try XCTUnwrap(JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any], info)))
        }
        for x in nodes {
            for y in nodes where y.data != x.data {
                let r = try Harness.run("sealpost-node", ["peer", "add", "--data", x.data, "--", y.info["name"] as! String, y.info["router"] as! String,
                                                          y.info["publish"] as! String, y.info["public_key"] as! String])
                XCTAssertEqual(r.status, 0, r.stderr)
            }
        }
        return nodes
    }
}

/// A `sealpost-node run` process in the background.
final class NodeProcess {
    let process = Process()
    let log: String

    init(data: String, cwd: String? = nil, extra: [String] = []) throws {
        log = (cwd ?? data) + "/../node-\(UUID().uuidString.prefix(8)).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: try Harness.path("sealpost-node"))
        // The suite's nodes run on the fast protocol timers (SPEC's are the default of `run`).
        process.arguments = ["run", "--fast-timers"] + (data.isEmpty ? [] : ["--data", data]) + extra
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let handle = FileHandle(forWritingAtPath: log)!
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Waits until the node printed that it listens.
    func waitUntilListening(timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var pause = PollPause(upTo: 0.05)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: log, encoding: .utf8), text.contains("listening on") { return }
            if !process.isRunning { break }
            pause.sleep()
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        // Thrown, not XCTFail'd: a caller may still decide to skip (a busy default port);
        // uncaught, the error fails the test with this text.
        throw Harness.Failure("node did not start: \(text)")
    }

    /// SIGTERM and wait: a clean stop.
    func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }
}

/// A tool running in the background (`chat`, a long `inbox`), as at a terminal: stdin and
/// stdout are pipes (stdout read as it comes), stderr goes to a file.
final class BackgroundProcess {
    let process = Process()
    private let errors: String
    private let input = Pipe(), output = Pipe()
    private var received = Data()

    init(_ tool: String, _ args: [String]) throws {
        errors = NSTemporaryDirectory() + "sealpost-bg-\(UUID().uuidString).err"
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.executableURL = URL(fileURLWithPath: try Harness.path(tool))
        process.arguments = args
        let handle = FileHandle(forWritingAtPath: errors)!
        process.standardOutput = output
        process.standardError = handle
        process.standardInput = input
        try process.run()
        try? handle.close()
        let fd = output.fileHandleForReading.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    var pid: Int32 { process.processIdentifier }

    /// Reads what is in the pipe now.
    private func pump() {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(output.fileHandleForReading.fileDescriptor, &buffer, buffer.count)
            if n <= 0 { return }
            received.append(contentsOf: buffer[..<n])
        }
    }

    /// Standard output so far.
    var text: String {
        pump()
        return String(decoding: received, as: UTF8.self)
    }

    var stderr: String { (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "" }

    /// Complete lines of standard output (a line still being written is left out).
    var lines: [String] {
        let t = text
        guard let end = t.lastIndex(of: "\n") else { return [] }
        return t[..<end].split(separator: "\n").map(String.init)
    }

    /// Reads standard output every millisecond until `check` holds or the process ended.
    @discardableResult
    func waitFor(timeout: Double = 20, _ check: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if check(text) { return true }
            if !process.isRunning { return check(text) }
            usleep(1_000)
        }
        return false
    }

    /// Types a line.
    func type(_ line: String) { input.fileHandleForWriting.write(Data((line + "\n").utf8)) }

    /// Ctrl-D.
    func closeInput() { try? input.fileHandleForWriting.close() }

    /// The exit status, or nil if it is still running after `timeout`.
    func waitForExit(timeout: Double = 30) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { pump(); usleep(10_000) }
        if process.isRunning { return nil }
        process.waitUntilExit()
        pump()
        return process.terminationStatus
    }

    /// `kill -9`, and wait for it to be gone (what it wrote before stays readable).
    func killHard() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        pump()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: errors)
    }
}
