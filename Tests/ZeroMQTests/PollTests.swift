import Foundation
import XCTest
import ZeroMQ

final class PollTests: XCTestCase {
    func testWakeupFromAnotherThreadMakesPollReadable() throws {
        let wakeup = Wakeup()
        defer { wakeup.close() }
        XCTAssertEqual(try poll([(.fd(wakeup.fd), .readable)], timeoutMs: 0), [[]], "nothing signalled yet")

        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            usleep(100_000)
            wakeup.signal()
            done.signal()
        }
        let started = monotonicMs()
        thread.start()
        let events = try poll([(.fd(wakeup.fd), .readable)], timeoutMs: 5_000)
        let waited = monotonicMs() - started
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)

        XCTAssertEqual(events, [.readable])
        XCTAssertGreaterThanOrEqual(waited, 80, "poll returned before the signal")
        XCTAssertLessThan(waited, 4_000, "poll waited for its timeout instead of the signal")

        wakeup.drain()
        XCTAssertEqual(try poll([(.fd(wakeup.fd), .readable)], timeoutMs: 0), [[]], "drain clears the wake-up")
    }

    /// A process signal (here SIGUSR1, every 20 ms, with a handler that does nothing) does not end
    /// the wait early: a caller waiting for an answer took that for its timeout.
    func testASignalDoesNotEndTheWaitEarly() throws {
        let wakeup = Wakeup()
        defer { wakeup.close() }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        action.sa_flags = 0 // no SA_RESTART: epoll_wait gives EINTR
        var old = sigaction()
        XCTAssertEqual(sigaction(SIGUSR1, &action, &old), 0)
        defer { sigaction(SIGUSR1, &old, nil) }
        let target = pthread_self()
        let stop = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let signaller = Thread {
            while stop.wait(timeout: .now() + .milliseconds(20)) == .timedOut { pthread_kill(target, SIGUSR1) }
            done.signal()
        }
        signaller.start()
        let started = monotonicMs()
        let events = try poll([(.fd(wakeup.fd), .readable)], timeoutMs: 400)
        let waited = monotonicMs() - started
        stop.signal()
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(events, [[]])
        XCTAssertGreaterThanOrEqual(waited, 390, "poll returned at a signal, before its timeout")
    }

    func testSeveralSignalsAreDrainedAtOnce() throws {
        let wakeup = Wakeup()
        defer { wakeup.close() }
        for _ in 0..<3 { wakeup.signal() }
        XCTAssertEqual(try poll([(.fd(wakeup.fd), .readable)], timeoutMs: 1_000), [.readable])
        wakeup.drain()
        XCTAssertEqual(try poll([(.fd(wakeup.fd), .readable)], timeoutMs: 0), [[]])
    }

    func testPollTimesOutWithNothingReady() throws {
        let wakeup = Wakeup()
        defer { wakeup.close() }
        let started = monotonicMs()
        XCTAssertEqual(try poll([(.fd(wakeup.fd), .readable)], timeoutMs: 150), [[]])
        XCTAssertGreaterThanOrEqual(monotonicMs() - started, 140)
    }

    func testPollReportsEachItemSeparately() throws {
        let context = Context()
        let router = try Socket(context, .router)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try Socket(context, .dealer)
        try dealer.connect(try router.lastEndpoint())
        let wakeup = Wakeup()
        defer { wakeup.close() }

        XCTAssertTrue(try dealer.send([bytes("ping")]))
        var events: [PollEvents] = [[], []]
        let deadline = monotonicMs() + 5_000
        while !events[0].contains(.readable), monotonicMs() < deadline {
            events = try poll([(.socket(router), .readable), (.fd(wakeup.fd), .readable)], timeoutMs: 100)
        }
        XCTAssertEqual(events, [.readable, []])

        wakeup.signal()
        events = try poll([(.socket(router), .readable), (.fd(wakeup.fd), .readable), (.socket(dealer), .writable)], timeoutMs: 1_000)
        XCTAssertEqual(events, [.readable, .readable, .writable])
        XCTAssertEqual(try router.receive()?.frames.last, bytes("ping"))
    }
}
