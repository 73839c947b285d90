import Foundation
import SealpostClient
import SealpostCore
import Sodium
@testable import SealpostWeb
import XCTest

extension WebDaemonTests {
    /// `sealpost passphrase set` in library form: the profile's keys and the history key sealed.
    func seal(_ path: String, passphrase: String) throws {
        let profile = try Profile.load(from: path)
        try HistoryKey.reseal(profilePath: path, current: nil, new: passphrase)
        try profile.write(to: path, passphrase: passphrase)
    }

    func testASealedProfileOpensOnlyWithItsPassphrase() throws {
        stopDaemon(daemon)
        daemon = nil
        let before = try Profile.load(from: alicePath)
        let boxSecret = Sodium.base64(before.box.secretKey.copyBytes())
        try seal(alicePath, passphrase: "correct horse battery")
        XCTAssertTrue(Profile.isSealed(at: alicePath))
        let text = String(decoding: FileManager.default.contents(atPath: alicePath) ?? Data(), as: UTF8.self)
        XCTAssertFalse(text.contains(boxSecret), "a private key in clear")
        XCTAssertThrowsError(try Profile.load(from: alicePath)) { XCTAssertTrue("\($0)".contains("sealed by a passphrase"), "\($0)") }
        XCTAssertThrowsError(try Profile.load(from: alicePath) { "wrong horse battery" }) {
            XCTAssertEqual($0 as? ClientError, .invalid("wrong passphrase for the profile at \(alicePath)"))
        }
        let after = try Profile.load(from: alicePath) { "correct horse battery" }
        XCTAssertEqual(after.box.publicKey, before.box.publicKey)
        XCTAssertEqual(after.sign.publicKey, before.sign.publicKey)
        XCTAssertEqual(after.address, before.address)
        let keyFile = FileManager.default.contents(atPath: HistoryKey.path(profilePath: alicePath)) ?? Data()
        XCTAssertEqual(keyFile.first, UInt8(ascii: "{"), "the history key is sealed")
        XCTAssertThrowsError(try HistoryKey.loadOrCreate(path: HistoryKey.path(profilePath: alicePath), passphrase: nil))
        XCTAssertThrowsError(try HistoryKey.loadOrCreate(path: HistoryKey.path(profilePath: alicePath), passphrase: "nope nope"))
    }

    func testALockedDaemonServesNothingUntilThePassphraseIsGiven() throws {
        var browser = try loggedIn()
        _ = try wu.sendText(to: Address("alice@hq")!, text: "before the passphrase")
        try waitUntil("recorded") {
            (try browser.get("/api/history?conversation=wu@traffic").json["messages"] as? [[String: Any]] ?? []).count == 1
        }
        stopDaemon(daemon)
        try seal(alicePath, passphrase: "correct horse battery")
        daemon = try startDaemon(alicePath)
        XCTAssertTrue(daemon.isLocked)
        browser = try loggedIn()
        let state = try browser.get("/api/state")
        XCTAssertEqual(state.json["locked"] as? Bool, true)
        XCTAssertEqual((state.json["me"] as? [String: Any])?["address"] as? String, "alice@hq")
        XCTAssertEqual(try browser.get("/api/history?conversation=wu@traffic").status, 423)
        XCTAssertEqual(try browser.post("/api/send", ["to": "wu@traffic", "text": "x"]).status, 423)
        // The unlock is a state-changing request like any other: CSRF header and Origin needed.
        XCTAssertEqual(try browser.post("/api/unlock", ["passphrase": "correct horse battery"], csrf: false).status, 403)
        var foreign = browser
        foreign.origin = "http://evil.example"
        XCTAssertEqual(try foreign.post("/api/unlock", ["passphrase": "correct horse battery"]).status, 403)
        XCTAssertEqual(try browser.post("/api/unlock", ["passphrase": "wrong horse battery"]).status, 401)
        XCTAssertTrue(daemon.isLocked)
        XCTAssertEqual(try browser.post("/api/unlock", ["passphrase": "correct horse battery"]).status, 200)
        XCTAssertFalse(daemon.isLocked)
        // The history from before the passphrase opens under the resealed key.
        let texts = (try browser.get("/api/history?conversation=wu@traffic").json["messages"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
        XCTAssertEqual(texts, ["before the passphrase"])
        try assertOnlyMarkerArrives(browser)
    }
}
