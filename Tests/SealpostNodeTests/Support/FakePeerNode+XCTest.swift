import SealpostTestSupport
import XCTest

extension FakePeerNode {
    /// Waits until the node's DEALER said HELLO to us (and got our answer), announcing our routes meanwhile.
    func waitForNodeHello(timeoutMs: Int = 10_000) throws {
        _ = try serve(until: { nodeRouting != nil }, timeoutMs: timeoutMs)
        XCTAssertNotNil(nodeRouting, "the node connected to \(name)")
    }

    /// Waits until the node acknowledged every one of `jids`, or fails.
    func waitForAcks(_ jids: Set<UInt64>, timeoutMs: Int = 10_000, file: StaticString = #filePath, line: UInt = #line) throws {
        _ = try serve(until: { jids.isSubset(of: acknowledged) }, timeoutMs: timeoutMs, announcing: false)
        XCTAssertTrue(jids.isSubset(of: acknowledged), "RELAYED for \(jids.subtracting(acknowledged).sorted())", file: file, line: line)
    }
}
