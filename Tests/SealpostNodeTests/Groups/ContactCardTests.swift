import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// Contact cards between real nodes: verified, tampered, external, unknown.
final class ContactCardTests: XCTestCase {
    func card(_ messages: [ReceivedMessage]) throws -> ReceivedCard {
        let m = try XCTUnwrap(messages.first)
        XCTAssertEqual(m.kind, .card)
        return try XCTUnwrap(m.card)
    }

    func testCardOfAPersonOnAnotherUnitIsVerifiedAndOpensAChat() throws {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic")
        try hq.start()
        try traffic.start()
        try hq.peer(with: traffic)
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        let wu = try Client(profile: try traffic.join("wu"))
        defer { alice.close(); bob.close(); wu.close() }
        try waitUntilKnown(alice, "wu@traffic")
        try waitUntilKnown(wu, "bob@hq")

        _ = try alice.sendCard(to: Address("bob@hq")!, contact: Address("wu@traffic")!)
        let got = try card(try bob.receive(1))
        XCTAssertEqual(got.address, "wu@traffic")
        XCTAssertEqual(got.name, "wu")
        XCTAssertEqual(got.unit, "traffic")
        XCTAssertTrue(got.verified, got.reason ?? "")
        XCTAssertFalse(got.external)

        // A fresh client of bob's, told only the card's entry, writes to wu straight away.
        let bob2 = try Client(profile: bob.profile)
        defer { bob2.close() }
        bob2.remember(try XCTUnwrap(got.entry))
        let id = try bob2.sendText(to: Address("wu@traffic")!, text: "got your card")
        XCTAssertEqual(try wu.receive(1).map(\.id), [id])
    }

    func testTamperedUnknownAndExternalCardsAreNeverTrusted() throws {
        let hq = try TestNode("hq")
        try hq.start()
        let mallory = try Client(profile: try hq.join("mallory"))
        let bob = try Client(profile: try hq.join("bob"))
        _ = try hq.join("carol")
        defer { mallory.close(); bob.close() }

        // 1. carol's real entry with another box key swapped in: the signature no longer holds.
        let item = try mallory.lookupItem(Address("carol@hq")!)
        var entry = try DirectoryEntry.decode(item.entry)
        entry.boxKey = BoxKeyPair.generate().publicKey
        _ = try mallory.send(.member(entry: entry.encode(), homeSignKey: item.homeSignKey), to: Address("bob@hq")!)
        // 2. Re-signed by mallory's own key, and the card claims that key is hq's.
        let fakeNode = SignKeyPair.generate()
        entry.sign(with: fakeNode)
        _ = try mallory.send(.member(entry: entry.encode(), homeSignKey: fakeNode.publicKey), to: Address("bob@hq")!)
        // 3. A person of a node nobody here knows.
        var stranger = DirectoryEntry(address: "x@mars", display: "X", boxKey: BoxKeyPair.generate().publicKey,
                                      signKey: SignKeyPair.generate().publicKey, updatedAt: 1)
        stranger.sign(with: fakeNode)
        _ = try mallory.send(.member(entry: stranger.encode(), homeSignKey: fakeNode.publicKey), to: Address("bob@hq")!)
        // 4. An external contact.
        _ = try mallory.sendExternalCard(to: Address("bob@hq")!, name: "Ms Zhang", phone: "+86 10 5555 0100", org: "City Water", email: "")

        let cards = try bob.receive(4).map { try XCTUnwrap($0.card) }
        XCTAssertEqual(cards.count, 4)
        guard cards.count == 4 else { return }
        XCTAssertFalse(cards[0].verified)
        XCTAssertEqual(cards[0].reason, "the signature does not verify: the card was altered")
        XCTAssertNil(cards[0].entry, "nothing to write to")
        XCTAssertFalse(cards[1].verified)
        XCTAssertTrue(cards[1].reason?.contains("not the one your node holds") ?? false, cards[1].reason ?? "")
        XCTAssertFalse(cards[2].verified)
        XCTAssertTrue(cards[2].reason?.contains("not known to your node") ?? false, cards[2].reason ?? "")
        XCTAssertTrue(cards[3].external)
        XCTAssertFalse(cards[3].verified)
        XCTAssertEqual(cards[3].name, "Ms Zhang")
        XCTAssertEqual(cards[3].unit, "City Water")
        XCTAssertEqual(cards[3].phone, "+86 10 5555 0100")
        XCTAssertNil(cards[3].address)
        XCTAssertThrowsError(try mallory.sendExternalCard(to: Address("bob@hq")!, name: " ", phone: "", org: "", email: ""))
    }
}
