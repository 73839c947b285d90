import Foundation
import Glibc
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import XCTest

/// `metrics: { listen: … }`: a real node serves `/metrics` in the Prometheus text format,
/// built from the same `NodeStatus` as `sealpost-node status`.
final class MetricsTests: XCTestCase {
    func testAScrapeOfARealNodeParsesAndFollowsItsStatus() throws {
        let hq = try TestNode(name: "hq") { $0.metrics = MetricsConfig(listen: "127.0.0.1:0") }
        let traffic = try TestNode("traffic")
        try hq.start()
        try traffic.start()
        try hq.peer(with: traffic)
        let alice = try Client(profile: try hq.join("alice"))
        let wu = try Client(profile: try traffic.join("wu"))
        defer { alice.close(); wu.close() }
        try waitUntilKnown(alice, "wu@traffic")
        let endpoint = try XCTUnwrap(hq.node?.metricsEndpoint, "metrics configured in node.yaml: a listener")
        XCTAssertFalse(endpoint.hasSuffix(":0"), "the real port: \(endpoint)")
        XCTAssertNil(traffic.node?.metricsEndpoint, "off by default")

        for i in 0..<3 { _ = try alice.sendText(to: Address("wu@traffic")!, text: "before \(i)") }
        XCTAssertEqual(try wu.receive(3).count, 3)
        try hq.waitFor("the journal emptied") { $0.journal == 0 && $0.peers.first?.state == "connected" }

        var m = try Exposition(scraping: endpoint)
        XCTAssertEqual(m.value("sealpost_node_info", ["node": "hq", "version": SealpostVersion.string]), 1)
        XCTAssertEqual(m.type("sealpost_node_info"), "gauge")
        XCTAssertEqual(m.value("sealpost_peer_state", ["peer": "traffic", "state": "connected"]), 1)
        XCTAssertEqual(m.value("sealpost_peer_state", ["peer": "traffic", "state": "unreachable"]), 0)
        XCTAssertEqual(m.value("sealpost_route_hops", ["dest": "traffic", "next_hop": "traffic"]), 1)
        XCTAssertEqual(m.value("sealpost_users", ["kind": "enrolled"]), 1)
        XCTAssertGreaterThanOrEqual(m.value("sealpost_envelopes_in_total") ?? 0, 3)
        XCTAssertEqual(m.type("sealpost_envelopes_in_total"), "counter")
        XCTAssertEqual(m.value("sealpost_refused_total", ["reason": "mailbox_full"]), 0, "every reason present, at 0")
        XCTAssertEqual(m.value("sealpost_storage_full"), 0)
        XCTAssertGreaterThan(m.value("sealpost_storage_free_bytes") ?? 0, 0)
        XCTAssertNil(m.value("sealpost_destination_waiting", ["dest": "traffic"]), "nothing waits")

        // A partition: what waits shows per destination, and the peer's state moves.
        traffic.stop()
        for i in 0..<4 { _ = try alice.sendText(to: Address("wu@traffic")!, text: "while down \(i)") }
        try hq.waitFor("the peer seen down") { $0.peers.first?.state != "connected" && $0.journal == 4 }
        m = try Exposition(scraping: endpoint)
        XCTAssertEqual(m.value("sealpost_destination_waiting", ["dest": "traffic"]), 4)
        XCTAssertEqual(m.value("sealpost_journal_entries"), 4)
        XCTAssertEqual(m.value("sealpost_peer_state", ["peer": "traffic", "state": "connected"]), 0)
        // The scrape and the status are two moments: the route through the silent peer may be
        // withdrawn between them (its queue then counts 0), so compare a pair taken in a row.
        var status = try hq.status()
        for _ in 0..<20 where m.value("sealpost_peer_queue", ["peer": "traffic"]) != Double(status.peers[0].queue) {
            m = try Exposition(scraping: endpoint)
            status = try hq.status()
        }
        XCTAssertEqual(m.value("sealpost_envelopes_in_total"), Double(status.counters.envelopesIn))
        XCTAssertEqual(m.value("sealpost_peer_queue", ["peer": "traffic"]), Double(status.peers[0].queue))

        // Only /metrics is served.
        XCTAssertTrue(try httpGet(endpoint, "/other").hasPrefix("HTTP/1.1 404"))
        XCTAssertTrue(try httpGet(endpoint, "/metrics?x=1").hasPrefix("HTTP/1.1 200"))

        // Stopping the node closes the listener.
        hq.stop()
        XCTAssertThrowsError(try httpGet(endpoint, "/metrics"))
    }

    /// A scraper that connects and never sends its request holds the metrics thread (up to its
    /// 5 s read timeout), never the reactor: status and deliveries go on meanwhile.
    func testAStuckScraperDoesNotHoldTheNode() throws {
        let hq = try TestNode(name: "hq") { $0.metrics = MetricsConfig(listen: "127.0.0.1:0") }
        try hq.start()
        let endpoint = try XCTUnwrap(hq.node?.metricsEndpoint)
        let alice = try Client(profile: try hq.join("alice")), bob = try Client(profile: try hq.join("bob"))
        defer { alice.close(); bob.close() }
        let colon = try XCTUnwrap(endpoint.lastIndex(of: ":"))
        let stuck = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(stuck) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = try XCTUnwrap(UInt16(endpoint[endpoint.index(after: colon)...])).bigEndian
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(stuck, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(rc, 0)
        let start = Clock.monotonicNs()
        _ = try alice.sendText(to: Address("bob@hq")!, text: "while a scrape hangs")
        XCTAssertEqual(try bob.receive(1).map(\.text), ["while a scrape hangs"])
        XCTAssertEqual(try hq.status().counters.delivered, 1)
        XCTAssertLessThan(Clock.monotonicNs() - start, 4_000_000_000, "not held for the scraper's 5 s")
        let stopping = Clock.monotonicNs()
        hq.stop()
        XCTAssertLessThan(Clock.monotonicNs() - stopping, 1_000_000_000, "stopping does not wait for the stuck scraper")
    }

    func testABadOrTakenMetricsAddressStopsTheStartWithAClearError() throws {
        XCTAssertThrowsError(try MetricsConfig(listen: "9464").validate()) { error in
            XCTAssertTrue("\(error)".contains("HOST:PORT"), "\(error)")
        }
        XCTAssertThrowsError(try MetricsConfig(listen: "example.org:9464").validate())
        let first = try TestNode(name: "hq") { $0.metrics = MetricsConfig(listen: "127.0.0.1:0") }
        try first.start()
        let taken = try XCTUnwrap(first.node?.metricsEndpoint)
        let second = try TestNode(name: "hq") { $0.metrics = MetricsConfig(listen: taken) }
        XCTAssertThrowsError(try second.start()) { error in
            XCTAssertTrue("\(error)".contains("metrics.listen"), "\(error)")
        }
        XCTAssertTrue(try httpGet(taken, "/metrics").hasPrefix("HTTP/1.1 200"), "the first node still serves")
    }
}

/// A parsed text exposition: each family's TYPE, and its samples by label set.
struct Exposition {
    var types: [String: String] = [:]
    var samples: [String: [[String: String]: Double]] = [:]

    init(scraping endpoint: String) throws {
        let response = try httpGet(endpoint, "/metrics")
        let parts = response.components(separatedBy: "\r\n\r\n")
        XCTAssertTrue(parts[0].hasPrefix("HTTP/1.1 200 OK"), parts[0])
        XCTAssertTrue(parts[0].contains("Content-Type: text/plain; version=0.0.4"), parts[0])
        try self.init(text: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// Parses and checks the format: HELP and TYPE once per family, before its samples; valid names and values.
    init(text: String) throws {
        var helped = Set<String>()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { continue }
            if line.hasPrefix("# HELP ") {
                let name = String(line.dropFirst(7).prefix { $0 != " " })
                XCTAssertTrue(helped.insert(name).inserted, "HELP twice for \(name)")
                continue
            }
            if line.hasPrefix("# TYPE ") {
                let f = line.split(separator: " ")
                XCTAssertEqual(f.count, 4, String(line))
                XCTAssertNil(types[String(f[2])], "TYPE twice for \(f[2])")
                XCTAssertTrue(["counter", "gauge"].contains(f[3]), String(line))
                types[String(f[2])] = String(f[3])
                continue
            }
            var rest = Substring(line)
            let name = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
            rest = rest.dropFirst(name.count)
            XCTAssertNotNil(types[name], "sample before its TYPE: \(line)")
            var labels: [String: String] = [:]
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    let key = String(rest.prefix { $0 != "=" })
                    rest = rest.dropFirst(key.count)
                    guard rest.hasPrefix("=\"") else { throw Bad(line: String(line)) }
                    rest = rest.dropFirst(2)
                    var value = ""
                    while let c = rest.first, c != "\"" {
                        rest = rest.dropFirst()
                        if c == "\\", let next = rest.first {
                            rest = rest.dropFirst()
                            value.append(next == "n" ? "\n" : next)
                        } else {
                            value.append(c)
                        }
                    }
                    guard rest.first == "\"" else { throw Bad(line: String(line)) }
                    rest = rest.dropFirst()
                    if rest.first == "," { rest = rest.dropFirst() }
                    labels[key] = value
                }
                rest = rest.dropFirst()
            }
            guard rest.first == " ", let value = Double(rest.dropFirst()) else { throw Bad(line: String(line)) }
            XCTAssertNil(samples[name]?[labels], "sample twice: \(line)")
            samples[name, default: [:]][labels] = value
        }
        XCTAssertFalse(samples.isEmpty, "no samples in: \(text)")
    }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? { samples[name]?[labels] }
    func type(_ name: String) -> String? { types[name] }

    struct Bad: Error { let line: String }
}

/// One HTTP/1.1 GET over a plain socket; the whole response (the server closes the connection).
func httpGet(_ endpoint: String, _ path: String) throws -> String {
    struct Refused: Error {}
    let colon = try XCTUnwrap(endpoint.lastIndex(of: ":"))
    let port = try XCTUnwrap(UInt16(endpoint[endpoint.index(after: colon)...]))
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    inet_pton(AF_INET, String(endpoint[..<colon]), &addr.sin_addr)
    let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard rc == 0 else { throw Refused() }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let request = Array("GET \(path) HTTP/1.1\r\nHost: \(endpoint)\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { break }
        out += buffer[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}
