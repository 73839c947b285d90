import Foundation
import SealpostClient
import SealpostCore

/// A wait that did not see its condition in time; uncaught, XCTest fails the test with its text.
public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Checks `condition` every `every` seconds until it holds, or throws `TimedOut` naming
/// `what` after `timeout` seconds: a wait on a condition, never a fixed sleep.
public func waitUntil(_ what: @autoclosure () -> String, timeout: Double, every: Double = 0.05,
                      _ condition: () throws -> Bool) throws {
    let deadline = Clock.monotonicNs() + UInt64(timeout * 1e9)
    while try !condition() {
        guard Clock.monotonicNs() < deadline else { throw TimedOut(description: "timed out waiting for \(what())") }
        usleep(UInt32(every * 1e6))
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
