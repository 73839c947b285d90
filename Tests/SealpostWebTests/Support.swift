import Foundation
import Logging
import SealpostClient
import SealpostCore
import SealpostNode
@testable import SealpostWeb
import Synchronization
import XCTest

/// A real node in a temp directory, on a free loopback port, on the fast protocol timers
/// (as `TestNode` in SealpostNodeTests: a link seen down in about a second, not three to fifteen).
final class WebTestNode {
    let dir: DataDir
    let root: String
    let name: String
    private(set) var node: Node?

    init(_ name: String) throws {
        root = NSTemporaryDirectory() + "sealpost-webtest-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        dir = DataDir(root + "/node")
        self.name = name
        _ = try dir.create(config: NodeConfig(name: name, listen: "tcp://127.0.0.1:*", publish: "tcp://127.0.0.1:*"))
        node = try Node.start(dataDir: dir, logger: quiet) { $0.timers = .fast }
        endpoint = node!.routerEndpoint
        publishEndpoint = node!.publishEndpoint
    }

    /// The concrete endpoints of the first start, kept across restarts so profiles and peers stay valid.
    private(set) var endpoint = ""
    private(set) var publishEndpoint = ""

    func stop() {
        node?.stop()
        node = nil
    }

    func start() throws {
        let fixed = endpoint, fixedPublish = publishEndpoint
        node = try Node.start(dataDir: dir, logger: quiet) { config in
            config.listen = fixed
            config.publish = fixedPublish
            config.timers = .fast
        }
    }

    func peer(with other: WebTestNode) throws {
        try Operator.addPeer(dataDir: dir, peer: PeerConfig(name: other.name, router: other.endpoint, publish: other.publishEndpoint,
                                                            publicKey: try other.dir.loadKeys().publicKeyText))
        try Operator.addPeer(dataDir: other.dir, peer: PeerConfig(name: name, router: endpoint, publish: publishEndpoint,
                                                                  publicKey: try dir.loadKeys().publicKeyText))
    }

    /// Invites and joins `user`; returns the profile's path.
    func join(_ user: String) throws -> String {
        let path = root + "/\(user)/profile"
        let invite = try Operator.invite(dataDir: dir, user: user, endpoint: endpoint)
        _ = try Enrollment.join(code: invite.code, display: user.capitalized, profilePath: path)
        return path
    }

    deinit {
        node?.stop()
        try? FileManager.default.removeItem(atPath: root)
    }
}

let quiet: Logger = {
    var logger = Logger(label: "test.web")
    logger.logLevel = ProcessInfo.processInfo.environment["SEALPOST_TEST_LOG"] == "1" ? .debug : .critical
    return logger
}()

/// One HTTP/1.1 exchange over a real loopback TCP socket, with exactly the headers given
/// (URLSession would set Host and Origin itself).
struct RawHTTP {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: Data
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
    }

    let port: UInt16

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: Data = Data(), timeout: Double = 10) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw WebError.io("socket") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw WebError.io("connect: \(errno)") }
        var head = "\(method) \(path) HTTP/1.1\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if !body.isEmpty { head += "Content-Length: \(body.count)\r\n" }
        head += "Connection: close\r\n\r\n"
        let out = Data(head.utf8) + body
        _ = out.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
            if let r = Self.parse(received), r.complete { return r.response }
        }
        guard let r = Self.parse(received) else { throw WebError.io("no HTTP response") }
        return r.response
    }

    static func parse(_ data: Data) -> (response: Response, complete: Bool)? {
        guard let end = data.range(of: Data("\r\n\r\n".utf8)) else { return nil }
        let lines = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        guard let first = lines.first, first.count >= 12, let status = Int(first.split(separator: " ")[1]) else { return nil }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let body = data[end.upperBound...]
        let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) }
        let response = Response(status: status, headers: headers, body: Data(body))
        return (response, length.map { body.count >= $0 } ?? (status == 101))
    }
}

/// A logged-in browser, as far as the daemon can tell: its host, origin, cookie and CSRF token.
struct Browser {
    let http: RawHTTP
    var host: String
    var origin: String?
    var cookie: String?
    var csrf: String?

    init(port: UInt16) {
        http = RawHTTP(port: port)
        host = "127.0.0.1:\(port)"
        origin = "http://127.0.0.1:\(port)"
    }

    func headers(json: Bool = false, csrf sendCSRF: Bool = true, extra: [(String, String)] = []) -> [(String, String)] {
        var h: [(String, String)] = [("Host", host)]
        if let origin { h.append(("Origin", origin)) }
        if let cookie { h.append(("Cookie", cookie)) }
        if sendCSRF, let csrf { h.append((LocalGuard.csrfHeader, csrf)) }
        if json { h.append(("Content-Type", "application/json")) }
        return h + extra
    }

    func get(_ path: String) throws -> RawHTTP.Response { try http.request("GET", path, headers: headers()) }

    func post(_ path: String, _ object: [String: Any], csrf: Bool = true, extra: [(String, String)] = []) throws -> RawHTTP.Response {
        try http.request("POST", path, headers: headers(json: true, csrf: csrf, extra: extra),
                         body: try JSONSerialization.data(withJSONObject: object))
    }

    /// Exchanges the token for the session cookie and CSRF token.
    mutating func login(token: String) throws -> RawHTTP.Response {
        let r = try post("/api/login", ["token": token])
        if r.status == 200, let setCookie = r.header("Set-Cookie") {
            cookie = String(setCookie.split(separator: ";")[0])
            csrf = r.json["csrf"] as? String
        }
        return r
    }
}

extension XCTestCase {
    /// Waits until `check` holds, or fails after `timeout` seconds.
    func waitUntil(_ what: String, timeout: Double = 20, _ check: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var pauseUs: UInt32 = 2_000 // doubling up to 50 ms: a condition that holds soon is seen at once
        while Date() < deadline {
            if (try? check()) == true { return }
            usleep(pauseUs)
            pauseUs = min(50_000, pauseUs * 2)
        }
        throw WaitTimedOut(description: "timed out waiting for \(what)")
    }

    func token(of url: String) -> String { String(url.split(separator: "=", maxSplits: 1)[1]) }

    /// Starts a daemon on `profilePath` from synchronous test code.
    func startDaemon(_ profilePath: String, nodeTimeoutMs: Int = 5_000) throws -> WebDaemon {
        let box = ResultBox()
        let done = expectation(description: "daemon started")
        Task {
            do { box.set(.success(try await WebDaemon.start(profilePath: profilePath, port: 0, nodeTimeoutMs: nodeTimeoutMs, logger: quiet))) } catch { box.set(.failure(error)) }
            done.fulfill()
        }
        wait(for: [done], timeout: 30)
        return try box.get()!.get()
    }

    func stopDaemon(_ daemon: WebDaemon) {
        let done = expectation(description: "daemon stopped")
        Task { await daemon.stop(graceSeconds: 0); done.fulfill() }
        wait(for: [done], timeout: 30)
    }
}

final class ResultBox: Sendable {
    private let value = Mutex<Result<WebDaemon, any Error>?>(nil)
    func set(_ r: Result<WebDaemon, any Error>) { value.withLock { $0 = r } }
    func get() -> Result<WebDaemon, any Error>? { value.withLock { $0 } }
}

/// A wait that did not see its condition in time; uncaught, XCTest fails the test with its text.
struct WaitTimedOut: Error, CustomStringConvertible {
    let description: String
}
