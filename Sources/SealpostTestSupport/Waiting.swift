import Foundation
import SealpostClient
import SealpostCore

/// A wait that did not see its condition in time; uncaught, XCTest fails the test with its text.
public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Checks `condition` until it holds, or throws `TimedOut` naming `what` after `timeout`
/// seconds: a wait on a condition, never a fixed sleep. The first checks come 2 ms apart and
/// the pause doubles up to `every` seconds, so a condition that holds soon is seen at once and
/// a long wait does not ask (a node's status, say) more often than every `every` seconds.
public func waitUntil(_ what: @autoclosure () -> String, timeout: Double, every: Double = 0.05,
                      _ condition: () throws -> Bool) throws {
    let deadline = Clock.monotonicNs() + UInt64(timeout * 1e9)
    var pause = PollPause(upTo: every)
    while try !condition() {
        guard Clock.monotonicNs() < deadline else { throw TimedOut(description: "timed out waiting for \(what())") }
        pause.sleep()
    }
}

/// The pause between two checks of a condition: 2 ms first, doubling up to `upTo` seconds.
public struct PollPause {
    private var us: UInt32
    private let maxUs: UInt32

    public init(upTo seconds: Double = 0.05) {
        maxUs = UInt32(max(0.001, seconds) * 1e6)
        us = min(2_000, maxUs)
    }

    /// Sleeps for the current pause, then doubles it (up to the limit).
    public mutating func sleep() {
        usleep(us)
        us = min(maxUs, us * 2)
    }
}

/// Waits until `client` can look up `address` (its directory entry reached the client's node).
public func waitUntilKnown(_ client: Client, _ address: String, timeout: Double = 20) throws {
    do {
        try waitUntil("", timeout: timeout, every: 0.1) { (try? client.lookup(Address(address)!)) != nil }
    } catch is TimedOut {
        throw TimedOut(description: "\(address) never reached the directory")
    }
}
