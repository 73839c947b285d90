@testable import SealpostNode
import SealpostCore
import Sodium
import XCTest

/// The clearance cache with plain values: an entry's clearance, the same answer from the cache,
/// a changed entry read again, and entries without a clearance or that do not decode.
final class ClearanceCacheTests: XCTestCase {
    func entry(_ clearance: UInt8?) -> [UInt8] {
        var e = DirectoryEntry(address: "wu@traffic", display: "Wu", boxKey: BoxKeyPair.generate().publicKey,
                               signKey: SignKeyPair.generate().publicKey, updatedAt: 1)
        e.clearance = clearance
        e.sign(with: SignKeyPair.generate())
        return e.encode()
    }

    func testAnEntryIsReadAgainOnlyWhenItsBytesChange() {
        var cache = ClearanceCache()
        let cleared = entry(3), lowered = entry(1)
        XCTAssertEqual(cache.clearance(of: "wu@traffic", entry: cleared), 3)
        XCTAssertEqual(cache.clearance(of: "wu@traffic", entry: cleared), 3, "from the cache")
        XCTAssertEqual(cache.clearance(of: "wu@traffic", entry: lowered), 1, "a new entry (a lowered clearance) is read")
        XCTAssertEqual(cache.clearance(of: "wu@traffic", entry: cleared), 3, "and one put back (a rollback) too")
        XCTAssertEqual(cache.count, 1)
    }

    func testNoClearanceOrAnEntryThatDoesNotDecodeGivesNil() {
        var cache = ClearanceCache()
        XCTAssertNil(cache.clearance(of: "li@hq", entry: entry(nil)))
        XCTAssertNil(cache.clearance(of: "bad@hq", entry: [0x01, 0x02]))
    }
}
