import XCTest
@testable import SealpostCore

final class MessageIDTests: XCTestCase {
    func testAFreshIdStartsWithTheSendTimeInMilliseconds() {
        let id = MessageID.fresh(nowMs: 0x0123_4567_89AB)
        XCTAssertEqual(Array(id.bytes.prefix(6)), [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB])
    }

    func testFreshIdsOfOneSenderSortByTimeAndDifferWithinAMillisecond() {
        let a = MessageID.fresh(nowMs: 1_700_000_000_000)
        let b = MessageID.fresh(nowMs: 1_700_000_000_000)
        let c = MessageID.fresh(nowMs: 1_700_000_000_001)
        XCTAssertNotEqual(a, b, "the 80 random bits must differ")
        XCTAssertTrue(a.bytes.lexicographicallyPrecedes(c.bytes))
        XCTAssertTrue(b.bytes.lexicographicallyPrecedes(c.bytes))
    }
}
