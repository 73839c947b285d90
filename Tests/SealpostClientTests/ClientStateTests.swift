import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// What the client keeps on the person's device: profile, seen log, pending join.
final class ClientStateTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "sealpost-client-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    func sampleProfile() -> Profile {
        Profile(address: Address("wu@traffic")!, display: "Wu Lei", endpoint: "tcp://127.0.0.1:7400",
                nodeCurveKey: Sodium.randomBytes(32), nodeSignKey: Sodium.randomBytes(32),
                curve: .generate(), box: .generate(), sign: .generate())
    }

    func testProfileRoundTripsAndIsPrivate() throws {
        let p = sampleProfile()
        let path = root + "/dir/profile"
        try p.write(to: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        let back = try Profile.load(from: path)
        XCTAssertEqual(back.address, p.address)
        XCTAssertEqual(back.display, "Wu Lei")
        XCTAssertEqual(back.curve.publicKey, p.curve.publicKey)
        XCTAssertEqual(back.box.publicKey, p.box.publicKey)
        XCTAssertEqual(back.sign.publicKey, p.sign.publicKey)
        XCTAssertEqual(back.nodeSignKey, p.nodeSignKey)
    }

    func testDamagedOrMissingProfileGivesAClearError() throws {
        XCTAssertThrowsError(try Profile.load(from: root + "/missing")) { error in
            XCTAssertTrue("\(error)".contains("no profile at"), "\(error)")
        }
        try Data("{\"version\":1}".utf8).write(to: URL(fileURLWithPath: root + "/bad"))
        XCTAssertThrowsError(try Profile.load(from: root + "/bad")) { error in
            XCTAssertTrue("\(error)".contains("damaged"), "\(error)")
        }
    }

    func testInterruptedJoinKeepsItsKeysAndFinishesWithTheSameCode() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let invite = try Operator.invite(dataDir: hq.dir, user: "li", endpoint: hq.endpoint)
        hq.stop()
        // The node is down: the join times out, keeps the keys it made, writes no profile.
        let path = root + "/li"
        XCTAssertThrowsError(try Enrollment.join(code: invite.code, display: nil, profilePath: path, timeoutMs: 800))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        let pending = try Profile.load(from: path + ".pending")
        // Back up on the same port: the same code finishes with the same keys.
        try hq.start()
        defer { hq.stop() }
        let profile = try Enrollment.join(code: invite.code, display: nil, profilePath: path)
        XCTAssertEqual(profile.curve.publicKey, pending.curve.publicKey)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".pending"))
    }
}
