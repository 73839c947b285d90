import Foundation
import SealpostClient
import SealpostCore
@testable import SealpostWeb
import XCTest

/// Real nodes on loopback, a real daemon, real HTTP over TCP: alice@hq runs `sealpost web`,
/// wu@traffic is a plain library client on the other unit.
final class WebDaemonTests: XCTestCase {
    var hq: WebTestNode!
    var traffic: WebTestNode!
    var alicePath = ""
    var wu: Client!
    /// Ids wu has seen: a DELIVER may come again after a re-ATTACH (SPEC 6.8), and a client
    /// shows each message once by its id, as `sealpost inbox` does with its seen log.
    var wuSeen: Set<MessageID> = []
    var daemon: WebDaemon!

    override func setUpWithError() throws {
        hq = try WebTestNode("hq")
        traffic = try WebTestNode("traffic")
        try hq.peer(with: traffic)
        alicePath = try hq.join("alice")
        wu = try Client(profile: try Profile.load(from: try traffic.join("wu")))
        try waitUntil("alice@hq in traffic's directory") { (try? wu.lookup(Address("alice@hq")!)) != nil }
        let alice = try Client(profile: try Profile.load(from: alicePath))
        defer { alice.close() }
        try waitUntil("wu@traffic in hq's directory") { (try? alice.lookup(Address("wu@traffic")!)) != nil }
        daemon = try startDaemon(alicePath)
    }

    override func tearDownWithError() throws {
        if let daemon { stopDaemon(daemon) }
        wu?.close()
        daemon = nil
        hq = nil
        traffic = nil
    }

    func loggedIn() throws -> Browser {
        var browser = Browser(port: daemon.port)
        XCTAssertEqual(try browser.login(token: token(of: daemon.loginURL)).status, 200)
        return browser
    }

    /// What wu receives within `ms` (acknowledged).
    func wuReceives(ms: Int) throws -> [ReceivedMessage] {
        try wu.attach()
        var out: [ReceivedMessage] = []
        let deadline = Clock.monotonicNs() + UInt64(ms) * 1_000_000
        while Clock.monotonicNs() < deadline {
            if let event = try wu.next(timeoutMs: 50), case .message(let m) = event {
                if wuSeen.insert(m.id).inserted { out.append(m) }
                try wu.ack(m.seq)
            }
        }
        try wu.flush()
        return out
    }

    func historyCount() throws -> Int {
        let key = try HistoryKey.loadOrCreate(path: alicePath + ".history.key")
        let h = try History(path: alicePath + ".history.db", key: key)
        defer { h.close() }
        return try h.count()
    }

    /// Sends a marker through the legitimate path and checks it is the only thing wu got:
    /// proof that nothing refused before it was sent.
    func assertOnlyMarkerArrives(_ browser: Browser, file: StaticString = #filePath, line: UInt = #line) throws {
        let marker = "marker \(UUID().uuidString)"
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": marker]).status, 200, file: file, line: line)
        var got: [ReceivedMessage] = []
        try waitUntil("the marker at wu") {
            got += try wuReceives(ms: 300)
            return got.contains { $0.text == marker }
        }
        XCTAssertEqual(got.map(\.text), [marker], "something refused was delivered", file: file, line: line)
    }

    // MARK: the happy path

    func testChatBothWaysRecordedOnceAndSealed() throws {
        let browser = try loggedIn()
        let state = try browser.get("/api/state")
        XCTAssertEqual(state.status, 200)
        XCTAssertEqual((state.json["me"] as? [String: Any])?["address"] as? String, "alice@hq")

        let sent = try browser.post("/api/send", ["to": "wu@traffic", "text": "plate 粤B-12345 seen at the east gate"])
        XCTAssertEqual(sent.status, 200, String(decoding: sent.body, as: UTF8.self))
        let id = (sent.json["message"] as? [String: Any])?["id"] as? String
        var got: [ReceivedMessage] = []
        try waitUntil("wu receives alice's text") {
            got += try wuReceives(ms: 300)
            return !got.isEmpty
        }
        XCTAssertEqual(got.map(\.text), ["plate 粤B-12345 seen at the east gate"])
        XCTAssertEqual(got.first?.id.hex, id)

        // Own message: sending, then stored on my node (and soon delivered: ReceiptWebTests).
        try waitUntil("the state becomes stored") {
            let h = try browser.get("/api/history?conversation=wu@traffic").json["messages"] as? [[String: Any]] ?? []
            return ["stored", "delivered"].contains(h.first?["state"] as? String)
        }

        _ = try wu.sendText(to: Address("alice@hq")!, text: "收到，谢谢 — thanks")
        var messages: [[String: Any]] = []
        try waitUntil("alice's daemon records wu's reply") {
            messages = try browser.get("/api/history?conversation=wu@traffic").json["messages"] as? [[String: Any]] ?? []
            return messages.count == 2
        }
        XCTAssertEqual(messages.map { $0["text"] as? String }, ["plate 粤B-12345 seen at the east gate", "收到，谢谢 — thanks"])
        XCTAssertEqual(messages.map { $0["outgoing"] as? Bool }, [true, false])
        let list = try browser.get("/api/state").json["conversations"] as? [[String: Any]] ?? []
        XCTAssertEqual(list.first?["address"] as? String, "wu@traffic")
        XCTAssertEqual(list.first?["unread"] as? Int, 1)
        let row = (messages.last?["row"] as? Int) ?? 0
        XCTAssertEqual(try browser.post("/api/read", ["conversation": "wu@traffic", "through": row]).status, 200)
        let after = try browser.get("/api/state").json["conversations"] as? [[String: Any]] ?? []
        XCTAssertEqual(after.first?["unread"] as? Int, 0)

        // Search on the device, over the sealed records.
        let hits = try browser.get("/api/search?q=" + "EAST%20GATE").json["results"] as? [[String: Any]] ?? []
        XCTAssertEqual(hits.map { $0["id"] as? String }, [id])
        let hanzi = try browser.get("/api/search?q=" + "%E8%B0%A2%E8%B0%A2").json["results"] as? [[String: Any]] ?? []
        XCTAssertEqual(hanzi.map { $0["outgoing"] as? Bool }, [false])

        // Nothing readable on disk: not the texts, not in the WAL either; the key file is 0600.
        for suffix in [".history.db", ".history.db-wal"] {
            let bytes = FileManager.default.contents(atPath: alicePath + suffix) ?? Data()
            XCTAssertNil(bytes.range(of: Data("east gate".utf8)), "plaintext in \(suffix)")
            XCTAssertNil(bytes.range(of: Data("thanks".utf8)), "plaintext in \(suffix)")
        }
        let mode = (try FileManager.default.attributesOfItem(atPath: alicePath + ".history.key")[.posixPermissions] as? Int) ?? 0
        XCTAssertEqual(mode & 0o777, 0o600)
        let dbMode = (try FileManager.default.attributesOfItem(atPath: alicePath + ".history.db")[.posixPermissions] as? Int) ?? 0
        XCTAssertEqual(dbMode & 0o777, 0o600)
    }

    func testHistorySurvivesARestartAndIsNotRepeated() throws {
        let browser = try loggedIn()
        _ = try wu.sendText(to: Address("alice@hq")!, text: "first")
        try waitUntil("recorded") {
            (try browser.get("/api/history?conversation=wu@traffic").json["messages"] as? [[String: Any]] ?? []).count == 1
        }
        stopDaemon(daemon)
        daemon = try startDaemon(alicePath)
        let again = try loggedIn()
        _ = try wu.sendText(to: Address("alice@hq")!, text: "second")
        var texts: [String] = []
        try waitUntil("the second message") {
            texts = (try again.get("/api/history?conversation=wu@traffic").json["messages"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
            return texts.count >= 2
        }
        XCTAssertEqual(texts, ["first", "second"])
    }

    // MARK: one daemon per profile

    func testSecondDaemonOnTheSameProfileSaysWhereTheFirstIs() throws {
        let box = ResultBox()
        let done = expectation(description: "second start")
        let path = alicePath
        Task {
            do { box.set(.success(try await WebDaemon.start(profilePath: path, logger: quiet))) } catch { box.set(.failure(error)) }
            done.fulfill()
        }
        wait(for: [done], timeout: 30)
        guard case .failure(let error)? = box.get(), case WebError.alreadyRunning(let pid, let url) = error else {
            return XCTFail("a second daemon started on the same profile")
        }
        XCTAssertEqual(pid, getpid())
        XCTAssertTrue(url.hasPrefix("http://127.0.0.1:\(daemon.port)/#token="), url)
        XCTAssertTrue("\(error)".contains("pid \(getpid())"))
        // The URL in the lock file logs in.
        var browser = Browser(port: daemon.port)
        XCTAssertEqual(try browser.login(token: token(of: url)).status, 200)
    }

    /// The daemon receives for the profile: `inbox` and `chat` (which take `PROFILE.lock`) are
    /// refused beside it instead of taking its deliveries, and it says who holds it.
    func testTheDaemonHoldsTheProfilesReceivingLock() throws {
        XCTAssertThrowsError(try ProfileLock(profilePath: alicePath)) { error in
            XCTAssertTrue("\(error)".contains("pid \(getpid())"), "\(error)")
        }
        XCTAssertEqual(WebDaemon.running(profilePath: alicePath)?.pid, getpid())
    }

    // MARK: local attack surface: each refused, nothing changed

    func testDNSRebindingHostIsRefused() throws {
        var rebinding = Browser(port: daemon.port)
        rebinding.host = "evil.example:\(daemon.port)"
        rebinding.origin = "http://evil.example:\(daemon.port)"
        XCTAssertEqual(try rebinding.get("/").status, 403)
        XCTAssertEqual(try rebinding.get("/app.js").status, 403)
        // Even with the right token, a login through a rebound name is refused and does not use the token up.
        var stolen = rebinding
        XCTAssertEqual(try stolen.login(token: token(of: daemon.loginURL)).status, 403)
        XCTAssertNil(stolen.cookie)
        var browser = try loggedIn()
        // A real session, reached under another name (the page of a rebinding attack would send it).
        browser.host = "evil.example:\(daemon.port)"
        XCTAssertEqual(try browser.get("/api/state").status, 403)
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": "rebound"]).status, 403)
        browser.host = "127.0.0.1:\(daemon.port + 1)"
        XCTAssertEqual(try browser.get("/api/state").status, 403, "another port is another origin")
        browser.host = "localhost:\(daemon.port)"
        browser.origin = "http://localhost:\(daemon.port)"
        XCTAssertEqual(try browser.get("/api/state").status, 200, "localhost:PORT is allowed")
        XCTAssertEqual(try historyCount(), 0)
        browser.host = "127.0.0.1:\(daemon.port)"
        browser.origin = "http://127.0.0.1:\(daemon.port)"
        try assertOnlyMarkerArrives(browser)
    }

    func testForeignOriginIsRefused() throws {
        var foreign = Browser(port: daemon.port)
        foreign.origin = "http://evil.example"
        XCTAssertEqual(try foreign.login(token: token(of: daemon.loginURL)).status, 403)
        var browser = try loggedIn() // the token was not used up by the refused login
        browser.origin = "http://evil.example"
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": "from evil"]).status, 403)
        browser.origin = "null"
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": "from a sandboxed frame"]).status, 403)
        browser.origin = "http://127.0.0.1:\(daemon.port + 1)"
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": "from another port"]).status, 403)
        browser.origin = nil
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": "no origin"]).status, 403)
        XCTAssertEqual(try historyCount(), 0)
        browser.origin = "http://127.0.0.1:\(daemon.port)"
        try assertOnlyMarkerArrives(browser)
    }

    func testMissingOrWrongTokenIsRefused() throws {
        var browser = Browser(port: daemon.port)
        XCTAssertEqual(try browser.get("/api/state").status, 401, "no cookie")
        XCTAssertEqual(try browser.login(token: "wrong").status, 401)
        XCTAssertEqual(try browser.login(token: "").status, 401)
        XCTAssertEqual(try browser.post("/api/login", ["tokens": 1]).status, 400)
        XCTAssertEqual(try browser.login(token: String(repeating: "A", count: 10_000)).status, 401)
        browser.cookie = "\(daemon.guardian.cookieName)=forged"
        browser.csrf = "forged"
        XCTAssertEqual(try browser.get("/api/state").status, 401, "a forged cookie")
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": "forged"]).status, 401)
        // The token is single use: the second login with it is refused.
        let token = token(of: daemon.loginURL)
        var first = Browser(port: daemon.port)
        XCTAssertEqual(try first.login(token: token).status, 200)
        var second = Browser(port: daemon.port)
        XCTAssertEqual(try second.login(token: token).status, 401)
        XCTAssertNil(second.cookie)
        XCTAssertNotEqual(self.token(of: daemon.loginURL), token, "a fresh token for the next login")
        XCTAssertEqual(try historyCount(), 0)
        try assertOnlyMarkerArrives(first)
    }

    func testCrossOriginPostIsRefused() throws {
        var browser = try loggedIn()
        // What a form on another site can send: the cookie (were SameSite ignored), its own Origin, no custom header.
        var form = browser
        form.origin = "http://evil.example"
        XCTAssertEqual(try form.http.request("POST", "/api/send", headers: form.headers(csrf: false, extra: [("Content-Type", "text/plain")]),
                                             body: Data("{\"to\":\"wu@traffic\",\"text\":\"csrf\"}".utf8)).status, 403)
        // Same origin but without the CSRF header, or with a wrong one.
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": "no csrf"], csrf: false).status, 403)
        let good = browser.csrf
        browser.csrf = "wrong"
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": "wrong csrf"]).status, 403)
        XCTAssertEqual(try browser.post("/api/read", ["conversation": "wu@traffic", "through": 1]).status, 403)
        browser.csrf = good
        // A JSON body must be declared as JSON (a form cannot).
        XCTAssertEqual(try browser.http.request("POST", "/api/send", headers: browser.headers(extra: [("Content-Type", "text/plain")]),
                                                body: Data("{\"to\":\"wu@traffic\",\"text\":\"plain\"}".utf8)).status, 400)
        XCTAssertEqual(try historyCount(), 0)
        try assertOnlyMarkerArrives(browser)
    }

    func testNoCORSAndAStrictContentSecurityPolicy() throws {
        let http = RawHTTP(port: daemon.port)
        let preflight = try http.request("OPTIONS", "/api/send", headers: [
            ("Host", "127.0.0.1:\(daemon.port)"), ("Origin", "http://evil.example"),
            ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "x-sealpost-csrf, content-type"),
        ])
        XCTAssertEqual(preflight.status, 403)
        let page = try http.request("GET", "/", headers: [("Host", "127.0.0.1:\(daemon.port)")])
        XCTAssertEqual(page.status, 200)
        for r in [preflight, page, try Browser(port: daemon.port).get("/api/state")] {
            XCTAssertFalse(r.headers.contains { $0.0.lowercased().hasPrefix("access-control-") }, "a CORS header: \(r.headers)")
        }
        let csp = page.header("Content-Security-Policy") ?? ""
        XCTAssertTrue(csp.contains("default-src 'none'"), csp)
        XCTAssertTrue(csp.contains("script-src 'self';"), csp)
        XCTAssertFalse(csp.contains("unsafe-inline") || csp.contains("unsafe-eval") || csp.contains("http"), csp)
        XCTAssertTrue(csp.contains("frame-ancestors 'none'"), csp)
        XCTAssertEqual(page.header("X-Frame-Options"), "DENY")
        XCTAssertEqual(page.header("X-Content-Type-Options"), "nosniff")
        // The UI is embedded: no inline script, nothing loaded from elsewhere.
        let html = String(decoding: page.body, as: UTF8.self)
        XCTAssertTrue(html.contains("<script src=\"/app.js\""), html)
        XCTAssertNil(html.range(of: "<script>"), "an inline script")
        XCTAssertNil(html.range(of: " on[a-z]+=", options: .regularExpression), "an inline event handler")
        for asset in [Assets.indexHTML, Assets.appJS, Assets.appCSS] {
            XCTAssertNil(asset.range(of: "https?://", options: .regularExpression), "a remote URL in an embedded file")
        }
    }

    func testBadInputIsRefusedClearly() throws {
        let browser = try loggedIn()
        let notAnAddress = try browser.post("/api/send", ["to": "nobody", "text": "x"])
        XCTAssertEqual(notAnAddress.status, 400)
        XCTAssertTrue((notAnAddress.json["error"] as? String ?? "").contains("not an address"))
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": 12]).status, 400)
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": "   "]).status, 400)
        let long = try browser.post("/api/send", ["to": "wu@traffic", "text": String(repeating: "长", count: 30_000)])
        XCTAssertEqual(long.status, 400)
        XCTAssertTrue((long.json["error"] as? String ?? "").contains("64 KiB"))
        XCTAssertEqual(try browser.post("/api/send", ["to": "nobody@hq", "text": "x"]).status, 422)
        XCTAssertEqual(try browser.get("/api/history?conversation=x").status, 400)
        XCTAssertEqual(try browser.get("/api/history?conversation=wu@traffic&limit=100000").status, 400)
        XCTAssertEqual(try browser.get("/api/history?conversation=wu@traffic&before=-1").status, 400)
        XCTAssertEqual(try browser.get("/api/directory?q=" + String(repeating: "a", count: 65)).status, 400)
        XCTAssertEqual(try browser.get("/api/search?q=" + String(repeating: "a", count: 65)).status, 400)
        XCTAssertEqual(try browser.get("/api/search?q=").status, 400)
        XCTAssertEqual(try historyCount(), 0)
    }

    func testDirectoryFindsPeopleOnOtherUnits() throws {
        let browser = try loggedIn()
        let entries = try browser.get("/api/directory?q=wu").json["entries"] as? [[String: Any]] ?? []
        XCTAssertEqual(entries.map { $0["address"] as? String }, ["wu@traffic"])
        XCTAssertEqual(entries.first?["unit"] as? String, "traffic")
    }
}

extension WebDaemonTests {
    func testLiveEventsOverAWebSocketOnlyForTheSessionsOwnOrigin() throws {
        let browser = try loggedIn()
        let port = daemon.port
        // Cross-site WebSocket hijacking: a foreign page's socket carries its own Origin (and the cookie).
        let foreign = try WebSocketClient(port: port, headers: [("Host", browser.host), ("Origin", "http://evil.example"), ("Cookie", browser.cookie!)])
        XCTAssertEqual(foreign.status, 403)
        let noOrigin = try WebSocketClient(port: port, headers: [("Host", browser.host), ("Cookie", browser.cookie!)])
        XCTAssertEqual(noOrigin.status, 403)
        let noCookie = try WebSocketClient(port: port, headers: [("Host", browser.host), ("Origin", browser.origin!)])
        XCTAssertEqual(noCookie.status, 401)
        let rebound = try WebSocketClient(port: port, headers: [("Host", "evil.example:\(port)"), ("Origin", "http://evil.example:\(port)"),
                                                                ("Cookie", browser.cookie!)])
        XCTAssertEqual(rebound.status, 403)

        let socket = try WebSocketClient(port: port, headers: [("Host", browser.host), ("Origin", browser.origin!), ("Cookie", browser.cookie!)])
        XCTAssertEqual(socket.status, 101)
        XCTAssertNotNil(socket.event { $0["type"] as? String == "hello" })
        _ = try wu.sendText(to: Address("alice@hq")!, text: "live")
        let event = socket.event { $0["type"] as? String == "message" }
        let message = event?["message"] as? [String: Any]
        XCTAssertEqual(message?["text"] as? String, "live")
        XCTAssertEqual(message?["from"] as? String, "wu@traffic")
        XCTAssertEqual((event?["conversation"] as? [String: Any])?["unread"] as? Int, 1)
        // An own message: the message, then its state moving to stored.
        let sent = try browser.post("/api/send", ["to": "wu@traffic", "text": "back"])
        let id = (sent.json["message"] as? [String: Any])?["id"] as? String
        XCTAssertNotNil(socket.event { $0["type"] as? String == "state" && $0["id"] as? String == id && $0["state"] as? String == "stored" })
    }
}

extension WebDaemonTests {
    func state(of id: String, _ browser: Browser) throws -> String? {
        let messages = try browser.get("/api/history?conversation=wu@traffic").json["messages"] as? [[String: Any]] ?? []
        return messages.first { $0["id"] as? String == id }?["state"] as? String
    }

    /// The outbox is durable: a message written while the home node is down stays `sending`,
    /// survives a restart of the daemon, and is stored and delivered (once) when the node is back.
    func testAMessageSentWhileTheNodeIsDownIsKeptAndDeliveredOnceWhenItIsBack() throws {
        // The daemon knows when its node is down (the connection closed, or cannot be made): what
        // it would ask the node then (a look-up, the flush at stop) does not wait out the timeout.
        let quick = 2.5, timeout = 5.0
        stopDaemon(daemon)
        daemon = try startDaemon(alicePath, nodeTimeoutMs: Int(timeout * 1000))
        var browser = try loggedIn()
        // A first message while hq is up (the daemon learns wu's key from the directory then).
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": "before"]).status, 200)
        var got: [ReceivedMessage] = []
        try waitUntil("wu receives the first") {
            got += try wuReceives(ms: 300)
            return !got.isEmpty
        }
        hq.stop()
        var start = Date()
        try waitUntil("the daemon to say it is offline", timeout: quick) { try browser.get("/api/state").json["online"] as? Bool == false }
        let sent = try browser.post("/api/send", ["to": "wu@traffic", "text": "written while hq was down"])
        XCTAssertEqual(sent.status, 200, String(decoding: sent.body, as: UTF8.self))
        XCTAssertLessThan(Date().timeIntervalSince(start), quick, "the send waited for a node known to be down")
        let id = try XCTUnwrap((sent.json["message"] as? [String: Any])?["id"] as? String)
        XCTAssertEqual(try state(of: id, browser), "sending")
        // The daemon restarts (the laptop was closed) before the node is back.
        start = Date()
        stopDaemon(daemon)
        XCTAssertLessThan(Date().timeIntervalSince(start), quick, "the stop waited for a node known to be down")
        daemon = try startDaemon(alicePath, nodeTimeoutMs: Int(timeout * 1000))
        browser = try loggedIn()
        XCTAssertEqual(try state(of: id, browser), "sending")
        // The restarted daemon can still write to wu: it kept his directory entry; its connection
        // was never made, so it does not ask the node for it either.
        start = Date()
        let again = try browser.post("/api/send", ["to": "wu@traffic", "text": "and after the daemon restarted"])
        XCTAssertEqual(again.status, 200, String(decoding: again.body, as: UTF8.self))
        XCTAssertLessThan(Date().timeIntervalSince(start), quick, "the send waited for a node known to be down")
        let id2 = try XCTUnwrap((again.json["message"] as? [String: Any])?["id"] as? String)
        try hq.start()
        // Stored, or already delivered by traffic (its receipt can come first).
        let on = ["stored", "delivered"]
        try waitUntil("stored once hq is back", timeout: 30) { try on.contains(state(of: id, browser) ?? "") && on.contains(state(of: id2, browser) ?? "") }
        try waitUntil("wu receives them") {
            got += try wuReceives(ms: 300)
            return got.count > 2
        }
        got += try wuReceives(ms: 1500)
        XCTAssertEqual(got.map(\.text), ["before", "written while hq was down", "and after the daemon restarted"], "each delivered exactly once")
        XCTAssertEqual(got.map(\.id.hex).suffix(2), [id, id2])
    }
}
