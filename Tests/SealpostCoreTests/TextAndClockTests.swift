import Foundation
import SealpostCore
import XCTest

final class TextAndClockTests: XCTestCase {
    // MARK: String.truncatedUTF8

    func testShortStringsAreUnchanged() {
        XCTAssertEqual("".truncatedUTF8(0), "")
        XCTAssertEqual("hello".truncatedUTF8(5), "hello")
        XCTAssertEqual("hello".truncatedUTF8(255), "hello")
        XCTAssertEqual("吴磊".truncatedUTF8(6), "吴磊")
    }

    func testCutsAtCharacterBoundaries() {
        XCTAssertEqual("hello".truncatedUTF8(3), "hel")
        XCTAssertEqual("hello".truncatedUTF8(0), "")
        XCTAssertEqual("éé".truncatedUTF8(3), "é")           // 2-byte characters
        XCTAssertEqual("吴磊".truncatedUTF8(5), "吴")          // 3-byte
        XCTAssertEqual("🚦🚦".truncatedUTF8(7), "🚦")          // 4-byte
        XCTAssertEqual("a🚦".truncatedUTF8(4), "a")
        XCTAssertEqual("e\u{301}x".truncatedUTF8(2), "")      // one character of 3 bytes
        XCTAssertEqual("👨‍👩‍👧!".truncatedUTF8(17), "")          // an 18-byte grapheme is kept whole or not at all
        XCTAssertEqual("👨‍👩‍👧!".truncatedUTF8(18), "👨‍👩‍👧")
    }

    /// For every limit: a prefix of whole characters, within the limit, and the longest such.
    func testEveryLimitGivesTheLongestWholeCharacterPrefix() {
        let text = "aé吴🚦e\u{301}👨‍👩‍👧x\u{0}ß"
        let characters = Array(text)
        for limit in 0...(text.utf8.count + 2) {
            let cut = text.truncatedUTF8(limit)
            XCTAssertLessThanOrEqual(cut.utf8.count, limit, "limit \(limit)")
            let kept = Array(cut)
            XCTAssertEqual(kept, Array(characters.prefix(kept.count)), "limit \(limit)")
            XCTAssertTrue(text.utf8.starts(with: cut.utf8), "limit \(limit)")
            if kept.count < characters.count {
                XCTAssertGreaterThan(cut.utf8.count + String(characters[kept.count]).utf8.count, limit, "limit \(limit): not the longest")
            }
        }
    }

    // MARK: Clock

    func testRFC3339OfKnownInstants() {
        XCTAssertEqual(Clock.rfc3339(ms: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Clock.rfc3339(ms: 1), "1970-01-01T00:00:00.001Z")
        XCTAssertEqual(Clock.rfc3339(ms: 1_764_000_000_123), "2025-11-24T16:00:00.123Z")
        XCTAssertEqual(Clock.rfc3339(ms: 951_782_400_005), "2000-02-29T00:00:00.005Z")   // leap day
        XCTAssertEqual(Clock.rfc3339(ms: 1_704_067_199_999), "2023-12-31T23:59:59.999Z")
        XCTAssertEqual(Clock.rfc3339(ms: 1_704_067_200_000), "2024-01-01T00:00:00.000Z")
        XCTAssertEqual(Clock.rfc3339(ms: 4_102_444_800_050), "2100-01-01T00:00:00.050Z")
    }

    func testNowIsTheWallClock() {
        let foundation = UInt64(Date().timeIntervalSince1970 * 1000)
        let ours = Clock.nowMs()
        XCTAssertLessThan(ours > foundation ? ours - foundation : foundation - ours, 2_000)
    }

    func testMonotonicClockAdvances() {
        let a = Clock.monotonicNs()
        usleep(20_000)
        let b = Clock.monotonicNs()
        XCTAssertGreaterThanOrEqual(b - a, 19_000_000)
        XCTAssertLessThan(b - a, 5_000_000_000)
    }
}
