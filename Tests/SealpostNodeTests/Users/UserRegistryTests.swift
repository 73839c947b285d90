@testable import SealpostNode
import SealpostCore
import XCTest

/// The enrolled users with plain records: which key admits whom through enrolment, disable,
/// enable, re-key and removal, and which connections a revocation refuses.
final class UserRegistryTests: XCTestCase {
    func record(_ name: String, key: UInt8, disabledAt: UInt64? = nil) -> UserRecord {
        UserRecord(name: name, display: name, curveKey: Array(repeating: key, count: 32), boxKey: [], signKey: [], enrolledAt: 1,
                   entry: [key], disabledAt: disabledAt)
    }

    func testADisabledUsersKeyIsNotAdmittedButTheirRecordStays() {
        var users = UserRegistry(users: [record("li", key: 1), record("wang", key: 2, disabledAt: 5)])
        XCTAssertEqual(users.user(curveKey: Array(repeating: 1, count: 32)), "li")
        XCTAssertNil(users.user(curveKey: Array(repeating: 2, count: 32)))
        XCTAssertNotNil(users.byName["wang"])
        users.enabled("wang")
        XCTAssertEqual(users.user(curveKey: Array(repeating: 2, count: 32)), "wang")
        XCTAssertNil(users.byName["wang"]?.disabledAt)
        users.disabled("li", at: 9)
        XCTAssertNil(users.user(curveKey: Array(repeating: 1, count: 32)))
        XCTAssertEqual(users.byName["li"]?.disabledAt, 9)
    }

    func testEnrolRekeyAndRemove() {
        var users = UserRegistry()
        users.enrolled(record("li", key: 1))
        XCTAssertEqual(users.user(curveKey: Array(repeating: 1, count: 32)), "li")
        var rekeyed = record("li", key: 3)
        rekeyed.entry = [9]
        users.rekeyed(rekeyed)
        XCTAssertNil(users.user(curveKey: Array(repeating: 1, count: 32)), "the old key is refused")
        XCTAssertEqual(users.user(curveKey: Array(repeating: 3, count: 32)), "li")
        var entry = rekeyed
        entry.entry = [10]
        users.updated(entry)
        XCTAssertEqual(users.byName["li"]?.entry, [10])
        users.removed("li")
        XCTAssertNil(users.byName["li"])
        XCTAssertNil(users.user(curveKey: Array(repeating: 3, count: 32)))
        users.removed("li")
        XCTAssertTrue(users.byName.isEmpty, "removing twice changes nothing")
    }

    func testRevocationRefusesConnectionsOfBeforeOnly() {
        var users = UserRegistry(users: [record("li", key: 1), record("wang", key: 2)])
        let before = users.authGeneration
        XCTAssertFalse(users.isRevoked("li", generation: before))
        users.revoke("li")
        XCTAssertTrue(users.isRevoked("li", generation: before))
        XCTAssertFalse(users.isRevoked("li", generation: users.authGeneration), "a new handshake is admitted")
        XCTAssertFalse(users.isRevoked("wang", generation: before), "others keep their connections")
        XCTAssertEqual(users.authGeneration, before + 1)
    }
}
