import Foundation
import XCTest
import ZeroMQ

/// Plain (unauthenticated) sockets over real loopback TCP.
final class SocketTests: XCTestCase {
    /// A bound ROUTER and a DEALER connected to it with routing id `peer`.
    func pair(_ context: Context, routingId: String = "peer-1") throws -> (router: Socket, dealer: Socket) {
        let router = try Socket(context, .router)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        let dealer = try Socket(context, .dealer)
        try dealer.setOption(SocketOption.routingId, routingId)
        try dealer.connect(endpoint)
        return (router, dealer)
    }

    func testLastEndpointHasTheRealPort() throws {
        let context = Context()
        let router = try Socket(context, .router)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:"), endpoint)
        let port = try XCTUnwrap(Int(endpoint.dropFirst("tcp://127.0.0.1:".count)), endpoint)
        XCTAssertGreaterThan(port, 0)
        XCTAssertLessThan(port, 65_536)
    }

    func testLingerIsZero() throws {
        let socket = try Socket(Context(), .dealer)
        XCTAssertEqual(try socket.getInt(SocketOption.linger), 0)
        socket.close()
        XCTAssertTrue(socket.isClosed)
    }

    func testDealerRouterRoundTrip() throws {
        let context = Context()
        let (router, dealer) = try pair(context)
        XCTAssertTrue(try dealer.send([bytes("hello")]))

        let request = try XCTUnwrap(try receive(router), "no request within 5 s")
        XCTAssertEqual(request.frames, [bytes("peer-1"), bytes("hello")])
        XCTAssertNil(request.userId, "no ZAP, no User-Id")

        XCTAssertTrue(try router.send([bytes("peer-1"), bytes("world")]))
        let reply = try XCTUnwrap(try receive(dealer), "no reply within 5 s")
        XCTAssertEqual(reply.frames, [bytes("world")])
    }

    func testReceiveWithNothingWaitingReturnsNil() throws {
        let context = Context()
        let (router, _) = try pair(context)
        XCTAssertNil(try router.receive())
        let started = monotonicMs()
        XCTAssertNil(try receive(router, timeoutMs: 200))
        XCTAssertGreaterThanOrEqual(monotonicMs() - started, 190)
    }

    func testMultiFrameMessageArrivesAsTheSameFrames() throws {
        let context = Context()
        let (router, dealer) = try pair(context)
        let frames: [[UInt8]] = [[], [0], bytes("two"), [], (0..<70_000).map { UInt8(truncatingIfNeeded: $0) }, [0xFF]]
        XCTAssertTrue(try dealer.send(frames))
        let message = try XCTUnwrap(try receive(router))
        XCTAssertEqual(message.frames.count, frames.count + 1)
        XCTAssertEqual(message.frames.first, bytes("peer-1"))
        XCTAssertEqual(Array(message.frames.dropFirst()), frames)

        // And back, through the ROUTER.
        XCTAssertTrue(try router.send([bytes("peer-1")] + frames))
        XCTAssertEqual(try XCTUnwrap(try receive(dealer)).frames, frames)
    }

    func testMessagesKeepTheirOrderAndBoundaries() throws {
        let context = Context()
        let (router, dealer) = try pair(context)
        for i in 0..<100 {
            XCTAssertTrue(try dealer.send([bytes("m\(i)"), [UInt8(i)]]))
        }
        for i in 0..<100 {
            let message = try XCTUnwrap(try receive(router), "message \(i)")
            XCTAssertEqual(message.frames, [bytes("peer-1"), bytes("m\(i)"), [UInt8(i)]])
        }
    }

    func testOneMebibyteFrameArrivesWhole() throws {
        let context = Context()
        let (router, dealer) = try pair(context)
        let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        XCTAssertTrue(try dealer.send([big]))
        let message = try XCTUnwrap(try receive(router, timeoutMs: 10_000))
        XCTAssertEqual(message.frames.count, 2)
        XCTAssertEqual(message.frames[1].count, 1 << 20)
        XCTAssertEqual(message.frames[1], big)

        let bigger = [UInt8](big.reversed()) + big
        XCTAssertTrue(try router.send([bytes("peer-1"), bigger]))
        let reply = try XCTUnwrap(try receive(dealer, timeoutMs: 10_000))
        XCTAssertEqual(reply.frames, [bigger])
    }

    func testRouterMandatoryThrowsHostUnreachableForAnUnknownRoutingId() throws {
        let context = Context()
        let router = try Socket(context, .router)
        try router.setOption(SocketOption.routerMandatory, 1)
        try router.bind("tcp://127.0.0.1:*")
        XCTAssertThrowsError(try router.send([bytes("nobody"), bytes("hello")])) { error in
            let zmq = error as? ZMQError
            XCTAssertEqual(zmq?.isHostUnreachable, true, "\(error)")
            XCTAssertEqual(zmq?.code, EHOSTUNREACH)
        }
        // Without the option the same message is dropped silently.
        let lax = try Socket(context, .router)
        try lax.bind("tcp://127.0.0.1:*")
        XCTAssertTrue(try lax.send([bytes("nobody"), bytes("hello")]))
    }

    func testRouterMandatoryThrowsOnceThePeerIsGone() throws {
        let context = Context()
        let (router, dealer) = try pair(context, routingId: "leaving")
        try router.setOption(SocketOption.routerMandatory, 1)
        XCTAssertTrue(try dealer.send([bytes("hi")]))
        XCTAssertNotNil(try receive(router))
        XCTAssertTrue(try router.send([bytes("leaving"), bytes("known")]))
        dealer.close()

        let deadline = monotonicMs() + 5_000
        var unreachable = false
        while !unreachable, monotonicMs() < deadline {
            do {
                try router.send([bytes("leaving"), bytes("still there?")])
                usleep(10_000)
            } catch let error as ZMQError where error.isHostUnreachable {
                unreachable = true
            }
        }
        XCTAssertTrue(unreachable, "the ROUTER never noticed the peer left")
    }

    func testSocketKeepsItsContextAlive() throws {
        func makeRouter() throws -> Socket {
            let context = Context() // the only reference held here goes away on return
            let router = try Socket(context, .router)
            try router.bind("tcp://127.0.0.1:*")
            return router
        }
        let router = try makeRouter()
        let other = Context()
        let dealer = try Socket(other, .dealer)
        try dealer.setOption(SocketOption.routingId, "d")
        try dealer.connect(try router.lastEndpoint())
        XCTAssertTrue(try dealer.send([bytes("still alive")]))
        XCTAssertEqual(try XCTUnwrap(try receive(router)).frames, [bytes("d"), bytes("still alive")])
    }

    func testBindToAnInvalidEndpointThrows() throws {
        let socket = try Socket(Context(), .router)
        XCTAssertThrowsError(try socket.bind("tcp://127.0.0.1:notaport"))
        XCTAssertThrowsError(try socket.bind("nonsense://x"))
    }
}
