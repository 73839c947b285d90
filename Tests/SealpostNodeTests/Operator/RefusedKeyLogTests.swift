@testable import SealpostNode
import XCTest

/// Refused handshakes logged in aggregate, with plain times: the first of a window is
/// logged, the rest counted and summed up once the window is over.
final class RefusedKeyLogTests: XCTestCase {
    func testFirstOfAWindowLoggedTheRestSummedUpAfterIt() {
        var log = RefusedKeyLog()
        XCTAssertEqual(log.refused(("k1", "sealpost", "10.0.0.1"), now: 1_000, window: 100), .log)
        XCTAssertNil(log.summary(now: 1_050), "nothing unlogged yet")
        XCTAssertEqual(log.refused(("k2", "sealpost", "10.0.0.2"), now: 1_050, window: 100), .counted)
        XCTAssertEqual(log.refused(("k3", "sealpost-pub", "10.0.0.3"), now: 1_099, window: 100), .counted)
        XCTAssertNil(log.summary(now: 1_099), "the window is not over")
        let summary = log.summary(now: 1_100)
        XCTAssertEqual(summary?.count, 3, "the logged first one included")
        XCTAssertEqual(summary?.last.key, "k3")
        XCTAssertEqual(summary?.last.domain, "sealpost-pub")
        XCTAssertNil(log.summary(now: 1_200), "said once")
        XCTAssertEqual(log.refused(("k4", "sealpost", "10.0.0.4"), now: 1_200, window: 100), .log, "a new window")
        XCTAssertEqual(log.total, 4, "every refused key counts, logged or not")
    }
}
