@testable import SealpostWeb
import XCTest

/// The transfer meter with plain values: rate over the last seconds, time left, throttling.
final class TransferMeterTests: XCTestCase {
    func testRateAndTimeLeftOverTheWindow() {
        var m = TransferMeter(total: 10_000_000)
        let first = m.update(done: 0, nowNs: 1_000_000_000)
        XCTAssertEqual(first, TransferMeter.Reading(done: 0, total: 10_000_000, rate: 0, eta: nil), "no rate from one sample")
        XCTAssertNil(m.update(done: 100_000, nowNs: 1_100_000_000), "at most one reading per 200 ms")
        let r = m.update(done: 1_000_000, nowNs: 2_000_000_000)
        XCTAssertEqual(r?.rate, 1_000_000)
        XCTAssertEqual(r?.eta, 9)
        // Old samples leave the window: the rate follows a slowdown.
        _ = m.update(done: 4_000_000, nowNs: 5_000_000_000)
        let slow = m.update(done: 4_500_000, nowNs: 9_000_000_000)
        XCTAssertEqual(slow?.rate, 125_000)
        XCTAssertEqual(slow?.eta, 44)
    }

    func testTheLastReadingIsNeverThrottled() {
        var m = TransferMeter(total: 1000)
        _ = m.update(done: 0, nowNs: 0)
        XCTAssertEqual(m.update(done: 1000, nowNs: 10_000_000)?.eta, 0)
    }
}
