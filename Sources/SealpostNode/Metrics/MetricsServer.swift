import Dispatch
import Foundation
import Glibc
import Logging
import SealpostCore
import Synchronization
import ZeroMQ

/// How a scrape gets the reactor's status without ever blocking the reactor: the metrics
/// thread asks (a flag and a wake-up), the reactor answers at its next cycle by publishing a
/// `NodeStatus` it built itself, and the metrics thread renders and sends it. The reactor
/// never waits on the scrape; a scrape waits for at most one reactor cycle.
final class MetricsExchange: Sendable {
    private struct State {
        var asked: UInt64 = 0
        var answered: UInt64 = 0
        var snapshot: NodeStatus?
    }
    private let state = Mutex(State())
    private let published = DispatchSemaphore(value: 0)
    private let wanted = Atomic<Bool>(false)

    /// Read by the reactor every cycle: a scrape waits for a snapshot.
    var isWanted: Bool { wanted.load(ordering: .acquiring) }

    /// Called by the reactor when `isWanted`.
    func publish(_ status: NodeStatus) {
        wanted.store(false, ordering: .releasing)
        state.withLock { $0.answered = $0.asked; $0.snapshot = status }
        published.signal()
    }

    /// Called by the metrics thread: asks the reactor (woken through `wakeup`) for a snapshot
    /// newer than this request and waits for it up to `timeoutMs`; nil when the reactor did not
    /// answer in time (it is stopping, or stuck in a long cycle).
    func snapshot(wakeup: Wakeup, timeoutMs: Int) -> NodeStatus? {
        let ticket = state.withLock { s -> UInt64 in s.asked += 1; return s.asked }
        wanted.store(true, ordering: .releasing)
        wakeup.signal()
        let deadline = DispatchTime.now() + .milliseconds(timeoutMs)
        while true {
            if let s = state.withLock({ $0.answered >= ticket ? $0.snapshot : nil }) { return s }
            if published.wait(timeout: deadline) == .timedOut {
                return state.withLock { $0.answered >= ticket ? $0.snapshot : nil }
            }
        }
    }
}

/// `metrics.listen` of `node.yaml`: an HTTP listener serving `GET /metrics` in the Prometheus
/// text format, on its own thread (plain POSIX sockets, one connection at a time; each read and
/// write times out after 5 s, so a stuck scraper delays only other scrapes).
final class MetricsServer: Sendable {
    /// The bound address as `HOST:PORT`, with the real port when the config said `:0`.
    let endpoint: String
    private let listener: Int32
    private let stopWakeup = Wakeup()
    private let done = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)

    /// Binds `listen` (`HOST:PORT`, HOST an IPv4 address or `localhost`).
    /// - Throws: `NodeError.bind` saying why the address cannot be used.
    init(listen: String) throws {
        let (host, port) = try MetricsConfig.split(listen)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw NodeError.bind("metrics: cannot make a socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(port).bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else {
            Glibc.close(fd)
            throw NodeError.bind("metrics.listen '\(listen)': '\(host)' is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw NodeError.bind("metrics.listen '\(listen)': cannot listen there: \(reason); choose another port or remove metrics from node.yaml")
        }
        var real = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &real) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        endpoint = "\(host):\(UInt16(bigEndian: real.sin_port))"
    }

    /// Serves scrapes on a thread of its own until `stop`.
    func start(exchange: MetricsExchange, reactorWakeup: Wakeup, logger: Logger) {
        let thread = Thread { [self] in
            serve(exchange: exchange, reactorWakeup: reactorWakeup, logger: logger)
            done.signal()
        }
        thread.name = "sealpost-metrics"
        thread.start()
    }

    /// Stops serving and waits for the thread (idempotent).
    func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        stopWakeup.signal()
        done.wait()
        Glibc.close(listener)
        stopWakeup.close()
    }

    private func serve(exchange: MetricsExchange, reactorWakeup: Wakeup, logger: Logger) {
        while true {
            guard let events = try? poll([(.fd(listener), .readable), (.fd(stopWakeup.fd), .readable)], timeoutMs: -1) else { return }
            if events[1].contains(.readable) { return }
            guard events[0].contains(.readable) else { continue }
            let client = Glibc.accept(listener, nil, nil)
            guard client >= 0 else { continue }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let head = readRequest(client)
            if stopped.load(ordering: .acquiring) { Glibc.close(client); return }
            let response = Self.respond(to: head) {
                exchange.snapshot(wakeup: reactorWakeup, timeoutMs: 5000).map(MetricsText.render)
            }
            if response.status == 503 { logger.warning("metrics: the node did not answer a scrape within 5 s") }
            Self.writeAll(client, response.bytes)
            Glibc.close(client)
        }
    }

    /// The request head (up to 8 KiB), or nil when the client sent none within 5 s (or the server stops).
    private func readRequest(_ fd: Int32) -> String? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        let deadline = Clock.monotonicNs() + 5_000_000_000
        while data.count < 8192 {
            let now = Clock.monotonicNs()
            guard now < deadline,
                  let events = try? poll([(.fd(fd), .readable), (.fd(stopWakeup.fd), .readable)], timeoutMs: Int((deadline - now) / 1_000_000) + 1),
                  !events[1].contains(.readable) else { break }
            guard !events[0].isEmpty else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard n > 0 else { break }
            data += buffer[0..<n]
            if String(decoding: data, as: UTF8.self).contains("\r\n\r\n") { break }
        }
        return data.isEmpty ? nil : String(decoding: data, as: UTF8.self)
    }

    struct Response {
        var status: Int
        var bytes: [UInt8]
    }

    /// The answer to one request head: `GET /metrics` (and `HEAD`) get the exposition, anything else a short error.
    static func respond(to head: String?, metrics: () -> String?) -> Response {
        func reply(_ status: Int, _ reason: String, _ type: String, _ body: String, head: Bool = false) -> Response {
            let bytes = Array(body.utf8)
            let text = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
            return Response(status: status, bytes: Array(text.utf8) + (head ? [] : bytes))
        }
        guard let line = head?.split(separator: "\r\n", maxSplits: 1).first else {
            return reply(400, "Bad Request", "text/plain", "bad request\n")
        }
        let parts = line.split(separator: " ")
        guard parts.count == 3 else { return reply(400, "Bad Request", "text/plain", "bad request\n") }
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" else { return reply(404, "Not Found", "text/plain", "not found; the metrics are at /metrics\n") }
        guard parts[0] == "GET" || parts[0] == "HEAD" else { return reply(405, "Method Not Allowed", "text/plain", "use GET\n") }
        guard let text = metrics() else {
            return reply(503, "Service Unavailable", "text/plain", "the node did not answer in time\n")
        }
        return reply(200, "OK", MetricsText.contentType, text, head: parts[0] == "HEAD")
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }
}

/// `metrics:` in `node.yaml` (off when absent).
public struct MetricsConfig: Codable, Sendable, Equatable {
    /// `HOST:PORT` of the HTTP listener serving `/metrics`, e.g. `127.0.0.1:9464` (port 0: any free port).
    public var listen: String

    public init(listen: String) { self.listen = listen }

    public func validate() throws { _ = try Self.split(listen) }

    static func split(_ listen: String) throws -> (host: String, port: UInt16) {
        guard let colon = listen.lastIndex(of: ":"), colon != listen.startIndex,
              let port = UInt16(listen[listen.index(after: colon)...]) else {
            throw NodeError.config("metrics.listen '\(listen)' must look like HOST:PORT, e.g. 127.0.0.1:9464")
        }
        let host = String(listen[..<colon])
        guard host == "localhost" || host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy({ UInt8($0) != nil }) else {
            throw NodeError.config("metrics.listen '\(listen)': the host must be an IPv4 address (127.0.0.1, 0.0.0.0) or localhost")
        }
        return (host, port)
    }
}
