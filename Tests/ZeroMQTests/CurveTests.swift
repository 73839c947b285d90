import XCTest
import ZeroMQ

/// CURVE with a ZAP handler bound in the same context, as the node does it.
final class CurveTests: XCTestCase {
    // The key pairs of libzmq's CURVE tests (tests/testutil_security.hpp), checked with zmq_curve_public.
    static let serverPublicText = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    static let serverSecretText = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
    static let clientPublicText = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
    static let clientSecretText = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"

    static let serverPublic = Z85.decode(serverPublicText)!
    static let serverSecret = Z85.decode(serverSecretText)!
    static let clientPublic = Z85.decode(clientPublicText)!
    static let clientSecret = Z85.decode(clientSecretText)!

    static let domain = "sealpost-test"

    /// A CURVE ROUTER, a ZAP handler in its context, and a CURVE DEALER connected to it.
    struct Setup {
        let context: Context
        let zap: Socket
        let server: Socket
        let client: Socket
    }

    /// - Parameter beforeConnect: given the client and its context before it connects (to monitor
    ///   it); the client then has a context of its own, as a client process does.
    func makeSetup(serverKey: [UInt8] = CurveTests.serverPublic, beforeConnect: ((Socket, Context) throws -> Void)? = nil) throws -> Setup {
        try XCTSkipUnless(Context.hasCurve, "libzmq without CURVE")
        let context = Context()
        let zap = try Socket(context, .rep)
        try zap.bind("inproc://zeromq.zap.01") // before any CURVE socket of this context
        let server = try Socket(context, .router)
        try server.makeCurveServer(secretKey: Self.serverSecret, zapDomain: Self.domain)
        try server.bind("tcp://127.0.0.1:*")
        let clientContext = beforeConnect == nil ? context : Context()
        let client = try Socket(clientContext, .dealer)
        try client.makeCurveClient(serverKey: serverKey, publicKey: Self.clientPublic, secretKey: Self.clientSecret)
        try beforeConnect?(client, clientContext)
        try client.connect(try server.lastEndpoint())
        return Setup(context: context, zap: zap, server: server, client: client)
    }

    /// Answers ZAP requests with `status` while waiting up to `timeoutMs` for a message on
    /// one of `sockets`. Returns the number of ZAP requests and the first message with its socket index.
    func serve(_ setup: Setup, status: String, userId: String, until sockets: [Socket], timeoutMs: Int,
               file: StaticString = #filePath, line: UInt = #line) throws -> (zapRequests: Int, message: (Int, Message)?) {
        var requests = 0
        let deadline = monotonicMs() + timeoutMs
        while monotonicMs() < deadline {
            while let request = try setup.zap.receive() {
                requests += 1
                // RFC 27: version, request id, domain, address, identity, mechanism, credentials.
                XCTAssertEqual(request.frames.count, 7, file: file, line: line)
                if request.frames.count == 7 {
                    XCTAssertEqual(request.frames[0], bytes("1.0"), file: file, line: line)
                    XCTAssertEqual(request.frames[2], bytes(Self.domain), file: file, line: line)
                    XCTAssertEqual(request.frames[5], bytes("CURVE"), file: file, line: line)
                    XCTAssertEqual(request.frames[6], Self.clientPublic, file: file, line: line)
                }
                let requestId = request.frames.count > 1 ? request.frames[1] : []
                XCTAssertTrue(try setup.zap.send([bytes("1.0"), requestId, bytes(status), bytes(status == "200" ? "OK" : "denied"),
                                                  bytes(userId), []]), file: file, line: line)
            }
            for (index, socket) in sockets.enumerated() {
                if let message = try socket.receive() { return (requests, (index, message)) }
            }
            let items: [(PollTarget, PollEvents)] = [(.socket(setup.zap), .readable)] + sockets.map { (.socket($0), .readable) }
            _ = try poll(items, timeoutMs: max(1, min(50, deadline - monotonicMs())))
        }
        return (requests, nil)
    }

    func testAcceptedClientCarriesTheUserIdFromZAP() throws {
        let setup = try makeSetup()
        XCTAssertTrue(try setup.client.send([bytes("hello")]))

        let (requests, received) = try serve(setup, status: "200", userId: "u:test", until: [setup.server], timeoutMs: 5_000)
        XCTAssertGreaterThanOrEqual(requests, 1)
        let message = try XCTUnwrap(received?.1, "the server received nothing within 5 s")
        XCTAssertEqual(message.frames.count, 2)
        XCTAssertEqual(message.frames.last, bytes("hello"))
        XCTAssertEqual(message.userId, "u:test")

        // The server answers through the routing id it was given.
        XCTAssertTrue(try setup.server.send([message.frames[0], bytes("welcome")]))
        let reply = try XCTUnwrap(try receive(setup.client), "the client received nothing within 5 s")
        XCTAssertEqual(reply.frames, [bytes("welcome")])
    }

    func testRefusedClientGetsNothing() throws {
        let setup = try makeSetup()
        XCTAssertTrue(try setup.client.send([bytes("let me in")]))

        // Refuse until the handler has been asked (up to 5 s), then keep watching for another 500 ms.
        var requests = 0
        var received: (Int, Message)?
        let deadline = monotonicMs() + 5_000
        while requests == 0, received == nil, monotonicMs() < deadline {
            (requests, received) = try serve(setup, status: "400", userId: "", until: [setup.server, setup.client], timeoutMs: 100)
        }
        XCTAssertGreaterThanOrEqual(requests, 1, "the ZAP handler was never asked")
        if received == nil {
            let more = try serve(setup, status: "400", userId: "", until: [setup.server, setup.client], timeoutMs: 500)
            received = more.message
        }
        XCTAssertNil(received.map { "socket \($0.0) got \($0.1.frames)" })
    }

    func testWrongServerKeyFailsSilently() throws {
        var wrong = Self.serverPublic
        wrong[0] ^= 1
        let setup = try makeSetup(serverKey: wrong)
        XCTAssertTrue(try setup.client.send([bytes("hello")]))

        let (requests, received) = try serve(setup, status: "200", userId: "u:test", until: [setup.server, setup.client], timeoutMs: 1_000)
        XCTAssertEqual(requests, 0, "the handshake fails before ZAP is asked")
        XCTAssertNil(received.map { "socket \($0.0) got \($0.1.frames)" })
    }

    /// A client with a monitor, and a function that answers ZAP with a status until the monitor
    /// reports an event other than a lost connection (or 5 s pass).
    func monitoredSetup() throws -> (Setup, (String) throws -> Monitor.Event?) {
        var made: Monitor?
        let setup = try makeSetup { client, context in made = try Monitor(client, context: context, name: "client") }
        let monitor = try XCTUnwrap(made)
        return (setup, { status in
            let deadline = monotonicMs() + 5_000
            while monotonicMs() < deadline {
                _ = try self.serve(setup, status: status, userId: "u:test", until: [], timeoutMs: 20)
                while let event = try monitor.next() {
                    if event != .disconnected { return event }
                }
            }
            return nil
        })
    }

    /// The client's monitor hears the server refuse its key: a ZAP 400 comes back to the client as
    /// a CURVE ERROR, so a client can say "refused" at once instead of waiting out a timeout.
    /// libzmq then gives that connection up (no reconnect after an authentication failure).
    func testTheClientsMonitorHearsARefusal() throws {
        let (setup, answer) = try monitoredSetup()
        XCTAssertTrue(try setup.client.send([bytes("let me in")]))
        XCTAssertEqual(try answer("400"), .handshakeFailedAuth(status: 400))
    }

    /// The client's monitor hears the handshake succeed. (That it hears a node process that
    /// stops is checked end to end: `chat` says "node not answering" at once.)
    func testTheClientsMonitorHearsAnAcceptance() throws {
        let (_, answer) = try monitoredSetup()
        XCTAssertEqual(try answer("200"), .handshakeSucceeded)
    }
}
