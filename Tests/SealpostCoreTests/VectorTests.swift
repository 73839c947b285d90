import Foundation
import SealpostCore
import Sodium
import XCTest

/// The test vectors of protocol/vectors are normative: our codec and crypto must
/// produce exactly those bytes. `SEALPOST_WRITE_VECTORS=1 swift test --filter
/// VectorTests` rewrites them (only when the spec changes, in the same commit).
final class VectorTests: XCTestCase {
    static let vectorsDir = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("protocol/vectors")

    static var writing: Bool { ProcessInfo.processInfo.environment["SEALPOST_WRITE_VECTORS"] == "1" }

    func bytes(_ hex: String) -> [UInt8] { Hex.decode(hex)! }
    func seq(_ start: UInt8, _ count: Int) -> [UInt8] { (0..<count).map { start &+ UInt8($0) } }

    func load(_ name: String) throws -> [String: Any] { try Self.load(name) }
    func save(_ name: String, _ object: [String: Any]) throws { try Self.save(name, object) }

    /// One vector file as JSON (also for the vector tests of other concerns).
    static func load(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: vectorsDir.appendingPathComponent(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func save(_ name: String, _ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try (data + Data("\n".utf8)).write(to: vectorsDir.appendingPathComponent(name))
    }

    // MARK: commands

    static let id1 = MessageID(bytes: (0..<16).map { UInt8($0) })!
    static let envelope = Envelope(id: id1, from: "alice@hq", to: "wu@traffic", kind: 1, flags: 0,
                                   sentAt: 1_764_000_000_000, body: [0xde, 0xad, 0xbe, 0xef])

    /// Every command with fixed field values, in the order of SPEC.md.
    static var commands: [(String, Command)] {
        var unstamped = envelope
        unstamped.from = ""
        return [
            ("ENROLL", .enroll(display: "Wu Lei", curveKey: [UInt8](repeating: 0x11, count: 32),
                               boxKey: [UInt8](repeating: 0x22, count: 32), signKey: [UInt8](repeating: 0x33, count: 32))),
            ("ENROLLED", .enrolled(address: "wu@traffic", nodeSignKey: [UInt8](repeating: 0x44, count: 32))),
            ("LOOKUP", .lookup(requestId: 7, address: "alice@hq")),
            ("ENTRY", .entry(requestId: 7, entry: [1, 2, 3], homeSignKey: [UInt8](repeating: 0x55, count: 32))),
            ("SEND", .send(unstamped)),
            ("STORED", .stored(id: id1)),
            ("ATTACH", .attach(window: 1000)),
            ("DELIVER", .deliver(seq: 42, envelope: envelope)),
            ("ACK", .ack(seq: 42)),
            ("SYNCED", .synced(pending: 3)),
            ("PING", .ping),
            ("PONG", .pong(attached: true)),
            ("ERROR", .error(code: 404, ref: id1, reason: "no user 'carol' on node 'hq'")),
            ("DETACH", .detach),
            ("DIRECTORY", .directory(requestId: 8, query: "wu")),
            ("ENTRIES", .entries(requestId: 8, items: [DirectoryItem(entry: [4, 5], homeSignKey: [UInt8](repeating: 0x66, count: 32))])),
            ("VIEW", .view(id: id1)),
            ("VIEWING", .viewing(envelope)),
            ("NODE-KEYS", .nodeKeys(requestId: 9)),
            ("NODE-LIST", .nodeList(requestId: 9, nodes: [NodeKey(name: "hq", signKey: [UInt8](repeating: 0x88, count: 32)),
                                                          NodeKey(name: "traffic", signKey: [UInt8](repeating: 0x99, count: 32))])),
        ]
    }

    /// The home node key of directory.json (seed `seq(21, 32)`), which also signs the DIR-SNAPSHOT vector.
    static var directoryNode: SignKeyPair {
        var seed = (0..<32).map { UInt8(0x21 + $0) }
        return SignKeyPair(seed: &seed)!
    }

    /// Every node-to-node command with fixed field values, in the order of SPEC.md.
    static var peerCommands: [(String, PeerCommand)] {
        [
            ("HELLO", .hello(node: "hq", signKey: [UInt8](repeating: 0x77, count: 32), credit: 1000, epoch: 1_764_000_000_000)),
            ("RELAY", .relay(jid: 9, origin: "hq", dest: "traffic", streamSeq: 3, hops: 1, envelope: envelope, epoch: 1_764_000_000_000)),
            ("RELAYED", .relayed(jids: [9, 10])),
            ("PEER-PING", .ping(sentNs: 123_456_789)),
            ("PEER-PONG", .pong(echoNs: 123_456_789)),
            ("ROUTES", .routes(node: "city", seq: 5, entries: [
                RouteEntry(dest: "city", signKey: [UInt8](repeating: 0x01, count: 32), directoryVersion: 4, path: []),
                RouteEntry(dest: "district", signKey: [UInt8](repeating: 0x02, count: 32), directoryVersion: 2, path: ["district"]),
            ])),
            ("DIR-REQ", .directoryRequest(home: "traffic")),
            ("DIR-SNAPSHOT", .directorySnapshot(home: "traffic", version: 2, entries: [[1, 2], [3]],
                                                signature: DirectoryHead(home: "traffic", version: 2, entries: [[1, 2], [3]]).sign(with: directoryNode))),
            ("SUMMARY", .summary(node: "hq", seq: 1, json: Array("{\"users\":2}".utf8))),
        ]
    }

    func testPeerCommandVectors() throws {
        if Self.writing {
            try save("peer-commands.json", [
                "description": "Each node-to-node command of SPEC.md encoded with the field values listed in VectorTests.swift / SPEC.md 'Test vectors'.",
                "vectors": Self.peerCommands.map { ["command": $0.0, "hex": Hex.encode($0.1.encode())] },
            ])
        }
        let vectors = try XCTUnwrap(try load("peer-commands.json")["vectors"] as? [[String: Any]])
        XCTAssertEqual(vectors.count, Self.peerCommands.count)
        for (vector, (name, command)) in zip(vectors, Self.peerCommands) {
            XCTAssertEqual(vector["command"] as? String, name)
            let hex = try XCTUnwrap(vector["hex"] as? String)
            XCTAssertEqual(Hex.encode(command.encode()), hex, name)
            XCTAssertEqual(try PeerCommand.decode(bytes(hex)), command, name)
        }
    }

    func testCommandVectors() throws {
        if Self.writing {
            var list: [[String: Any]] = []
            for (name, command) in Self.commands {
                list.append(["command": name, "hex": Hex.encode(command.encode())])
            }
            try save("commands.json", [
                "description": "Each command of SPEC.md encoded with the field values listed in VectorTests.swift / SPEC.md section 'Test vectors'.",
                "vectors": list,
            ])
        }
        let file = try load("commands.json")
        let vectors = try XCTUnwrap(file["vectors"] as? [[String: Any]])
        XCTAssertEqual(vectors.count, Self.commands.count)
        for (vector, (name, command)) in zip(vectors, Self.commands) {
            XCTAssertEqual(vector["command"] as? String, name)
            let hex = try XCTUnwrap(vector["hex"] as? String)
            XCTAssertEqual(Hex.encode(command.encode()), hex, name)
            XCTAssertEqual(try Command.decode(bytes(hex)), command, name)
        }
    }

    // MARK: end-to-end body

    func testEndToEndVector() throws {
        var senderSecret = seq(0x01, 32), recipientSecret = seq(0x41, 32)
        let sender = try XCTUnwrap(BoxKeyPair(secretKey: &senderSecret))
        let recipient = try XCTUnwrap(BoxKeyPair(secretKey: &recipientSecret))
        let nonce = seq(0x81, 24)
        let content = Array("Meet at the east gate at 09:00.".utf8)
        let e = Self.envelope
        let key = try XCTUnwrap(BoxSharedKey(theirPublicKey: recipient.publicKey, mySecretKey: sender.secretKey))
        let body = Sealed.seal(kind: e.kind, id: e.id, from: e.from, to: e.to, sentAt: e.sentAt, content: content, key: key, nonce: nonce)
        if Self.writing {
            try save("e2e.json", [
                "description": "1:1 end-to-end body (SPEC.md 'End-to-end body'). Secret keys are raw X25519 scalars.",
                "sender_box_secret": Hex.encode(seq(0x01, 32)),
                "sender_box_public": Hex.encode(sender.publicKey),
                "recipient_box_secret": Hex.encode(seq(0x41, 32)),
                "recipient_box_public": Hex.encode(recipient.publicKey),
                "shared_key": Hex.encode(key.key.copyBytes()),
                "nonce": Hex.encode(nonce),
                "kind": Int(e.kind), "id": e.id.hex, "from": e.from, "to": e.to, "sent_at": Int(e.sentAt),
                "content_utf8": String(decoding: content, as: UTF8.self),
                "body": Hex.encode(body),
            ])
        }
        let v = try load("e2e.json")
        XCTAssertEqual(Hex.encode(sender.publicKey), v["sender_box_public"] as? String)
        XCTAssertEqual(Hex.encode(recipient.publicKey), v["recipient_box_public"] as? String)
        XCTAssertEqual(Hex.encode(key.key.copyBytes()), v["shared_key"] as? String)
        XCTAssertEqual(Hex.encode(body), v["body"] as? String)
        // The recipient opens it with its own secret and the sender's public key.
        let back = try XCTUnwrap(BoxSharedKey(theirPublicKey: sender.publicKey, mySecretKey: recipient.secretKey))
        var env = e
        env.body = bytes(try XCTUnwrap(v["body"] as? String))
        XCTAssertEqual(try Sealed.open(env, key: back), content)
    }

    // MARK: directory entry

    func testDirectoryEntryVector() throws {
        var seed = seq(0x21, 32)
        let node = try XCTUnwrap(SignKeyPair(seed: &seed))
        var entry = DirectoryEntry(address: "wu@traffic", display: "Wu Lei", boxKey: seq(0x61, 32), signKey: seq(0xa1, 32),
                                   updatedAt: 1_764_000_000_000)
        entry.sign(with: node)
        let head = DirectoryHead(home: "traffic", version: 3, entries: [entry.encode()])
        let headSignature = head.sign(with: node)
        let snapshot = PeerCommand.directorySnapshot(home: "traffic", version: 3, entries: [entry.encode()], signature: headSignature)
        if Self.writing {
            try save("directory.json", [
                "description": "Directory entry signed by the home node (SPEC.md 'Directory entry'). Ed25519 is deterministic.",
                "node_sign_seed": Hex.encode(seq(0x21, 32)),
                "node_sign_public": Hex.encode(node.publicKey),
                "address": entry.address, "display": entry.display,
                "box_key": Hex.encode(entry.boxKey), "sign_key": Hex.encode(entry.signKey), "updated_at": Int(entry.updatedAt),
                "signed_bytes": Hex.encode(entry.signedBytes),
                "signature": Hex.encode(entry.signature),
                "encoded": Hex.encode(entry.encode()),
                "snapshot": [
                    "description": "traffic's directory at version 3 holding this entry, as DIR-SNAPSHOT carries it (SPEC.md 'Applying a snapshot').",
                    "home": head.home, "version": Int(head.version), "entries": [Hex.encode(entry.encode())],
                    "entries_hash": Hex.encode(head.entriesHash), "signed_bytes": Hex.encode(head.signedBytes),
                    "signature": Hex.encode(headSignature), "frame": Hex.encode(snapshot.encode()),
                ] as [String: Any],
                "fingerprint": entry.fingerprint,
            ])
        }
        let v = try load("directory.json")
        XCTAssertEqual(entry.fingerprint, v["fingerprint"] as? String)
        let s = try XCTUnwrap(v["snapshot"] as? [String: Any])
        XCTAssertEqual(Hex.encode(head.entriesHash), s["entries_hash"] as? String)
        XCTAssertEqual(Hex.encode(head.signedBytes), s["signed_bytes"] as? String)
        XCTAssertEqual(Hex.encode(headSignature), s["signature"] as? String)
        XCTAssertEqual(Hex.encode(snapshot.encode()), s["frame"] as? String)
        XCTAssertTrue(head.verify(signature: headSignature, nodeKey: node.publicKey))
        XCTAssertFalse(DirectoryHead(home: "traffic", version: 4, entries: [entry.encode()]).verify(signature: headSignature, nodeKey: node.publicKey),
                       "another version does not verify")
        XCTAssertFalse(DirectoryHead(home: "traffic", version: 3, entries: []).verify(signature: headSignature, nodeKey: node.publicKey),
                       "another entry set does not verify")
        XCTAssertEqual(Hex.encode(node.publicKey), v["node_sign_public"] as? String)
        XCTAssertEqual(Hex.encode(entry.signedBytes), v["signed_bytes"] as? String)
        XCTAssertEqual(Hex.encode(entry.signature), v["signature"] as? String)
        XCTAssertEqual(Hex.encode(entry.encode()), v["encoded"] as? String)
        let decoded = try DirectoryEntry.decode(bytes(try XCTUnwrap(v["encoded"] as? String)))
        XCTAssertTrue(decoded.verify(nodeKey: node.publicKey))
    }

    // MARK: contact card

    func testContactCardVector() throws {
        var seed = seq(0x21, 32)
        let node = try XCTUnwrap(SignKeyPair(seed: &seed))
        var entry = DirectoryEntry(address: "wu@traffic", display: "Wu Lei", boxKey: seq(0x61, 32), signKey: seq(0xa1, 32),
                                   updatedAt: 1_764_000_000_000)
        entry.sign(with: node)
        let member = ContactCard.member(entry: entry.encode(), homeSignKey: node.publicKey)
        let external = ContactCard.external(name: "Ms Zhang", phone: "+86 10 5555 0100", org: "City Water", email: "z@water.example")
        if Self.writing {
            try save("card.json", [
                "description": "Contact card contents (SPEC.md 'Contact card'); the member card holds the directory.json entry.",
                "member": Hex.encode(member.encode()),
                "external": ["name": "Ms Zhang", "phone": "+86 10 5555 0100", "org": "City Water", "email": "z@water.example",
                             "hex": Hex.encode(external.encode())],
            ])
        }
        let v = try load("card.json")
        XCTAssertEqual(Hex.encode(member.encode()), v["member"] as? String)
        XCTAssertEqual(Hex.encode(external.encode()), (v["external"] as? [String: Any])?["hex"] as? String)
        XCTAssertEqual(try ContactCard.decode(bytes(try XCTUnwrap(v["member"] as? String))), member)
    }

    // MARK: groups and reminders

    func testGroupAndReminderVectors() throws {
        var senderSecret = seq(0x01, 32), bSecret = seq(0x41, 32), cSecret = seq(0xc1, 32)
        let sender = try XCTUnwrap(BoxKeyPair(secretKey: &senderSecret))
        let b = try XCTUnwrap(BoxKeyPair(secretKey: &bSecret))
        let c = try XCTUnwrap(BoxKeyPair(secretKey: &cSecret))
        let kb = try XCTUnwrap(BoxSharedKey(theirPublicKey: b.publicKey, mySecretKey: sender.secretKey))
        let kc = try XCTUnwrap(BoxSharedKey(theirPublicKey: c.publicKey, mySecretKey: sender.secretKey))
        let id = Self.id1
        let content = Array("Shift change at 18:00.".utf8)
        let groupBody = GroupSealed.seal(kind: EnvelopeKind.groupMessage.rawValue, id: id, from: "alice@hq", group: "ops@hq",
                                         sentAt: 1_764_000_000_000, content: content,
                                         wraps: [("wu@traffic", kb), ("zhao@district", kc)],
                                         contentKey: seq(0x90, 32), nonce: seq(0xa0, 24), wrapNonces: [seq(0xb0, 24), seq(0xd0, 24)])
        let op = Group.opBody(.add, members: ["wu@traffic", "zhao@district"])
        let event = Group.Event(op: Group.Op.add.rawValue, actor: "alice@hq",
                                members: [("alice@hq", true), ("wu@traffic", false), ("zhao@district", false)]).encode()
        let inner = Envelope(id: id, from: "alice@hq", to: "ops@hq", kind: EnvelopeKind.groupMessage.rawValue,
                             sentAt: 1_764_000_000_000, body: [1, 2, 3])
        let fanout = Group.fanoutBody(recipients: ["zhao@district"], envelope: inner)
        let reminderContent = Reminder.content(dueAt: 1_764_003_600_000, text: Array("file the report".utf8))
        let due = Reminder.Due(reminder: id, dueAt: 1_764_003_600_000, firedAt: 1_764_003_600_250, late: false).encode()
        if Self.writing {
            try save("group.json", [
                "description": "Group message body (GroupSealed), group_op, group_event and group_fanout bodies, reminder content and reminder_due body (SPEC.md 'Groups', 'Reminders'). Keys as in e2e.json, member c's secret is 0xc1..0xe0.",
                "sender_box_secret": Hex.encode(seq(0x01, 32)), "member_b": "wu@traffic", "member_b_box_secret": Hex.encode(seq(0x41, 32)),
                "member_c": "zhao@district", "member_c_box_secret": Hex.encode(seq(0xc1, 32)),
                "content_key": Hex.encode(seq(0x90, 32)), "nonce": Hex.encode(seq(0xa0, 24)),
                "wrap_nonces": [Hex.encode(seq(0xb0, 24)), Hex.encode(seq(0xd0, 24))],
                "id": id.hex, "from": "alice@hq", "group": "ops@hq", "sent_at": 1_764_000_000_000,
                "content_utf8": String(decoding: content, as: UTF8.self),
                "group_message_body": Hex.encode(groupBody),
                "group_op_add": Hex.encode(op), "group_event_add": Hex.encode(event), "group_fanout": Hex.encode(fanout),
                "reminder_content": Hex.encode(reminderContent), "reminder_due": Hex.encode(due),
            ])
        }
        let v = try load("group.json")
        XCTAssertEqual(Hex.encode(groupBody), v["group_message_body"] as? String)
        XCTAssertEqual(Hex.encode(op), v["group_op_add"] as? String)
        XCTAssertEqual(Hex.encode(event), v["group_event_add"] as? String)
        XCTAssertEqual(Hex.encode(fanout), v["group_fanout"] as? String)
        XCTAssertEqual(Hex.encode(reminderContent), v["reminder_content"] as? String)
        XCTAssertEqual(Hex.encode(due), v["reminder_due"] as? String)
        // Each member opens it with its own key; nobody else can.
        var env = Envelope(id: id, from: "alice@hq", to: "ops@hq", kind: EnvelopeKind.groupMessage.rawValue, sentAt: 1_764_000_000_000, body: groupBody)
        let back = try XCTUnwrap(BoxSharedKey(theirPublicKey: sender.publicKey, mySecretKey: c.secretKey))
        XCTAssertEqual(try GroupSealed.open(env, me: "zhao@district", key: back), content)
        XCTAssertThrowsError(try GroupSealed.open(env, me: "bob@hq", key: back))
        env.to = "other@hq"
        XCTAssertThrowsError(try GroupSealed.open(env, me: "zhao@district", key: back), "moved to another group")
    }

    // MARK: burn after reading

    func testBurnVectors() throws {
        var senderSecret = seq(0x01, 32), recipientSecret = seq(0x41, 32), seed = seq(0x61, 32)
        let sender = try XCTUnwrap(BoxKeyPair(secretKey: &senderSecret))
        let recipient = try XCTUnwrap(BoxKeyPair(secretKey: &recipientSecret))
        let node = try XCTUnwrap(SignKeyPair(seed: &seed))
        let k = try XCTUnwrap(BoxSharedKey(theirPublicKey: recipient.publicKey, mySecretKey: sender.secretKey))
        let sentAt: UInt64 = 1_764_000_000_000, expiresAt: UInt64 = 1_764_086_400_000
        let content = Burn.Content(expiresAt: expiresAt, text: Array("Gate code 4471.".utf8),
                                   images: [Burn.Image(name: "a.png", data: [0x89, 0x50, 0x4E, 0x47])])
        let sealed = Sealed.seal(kind: EnvelopeKind.burn.rawValue, id: Self.id1, from: "alice@hq", to: "wu@traffic", sentAt: sentAt,
                                 content: content.encode(), key: k, nonce: seq(0x81, 24))
        let body = Burn.body(expiresAt: expiresAt, images: 1, sealed: sealed)
        let envelope = Envelope(id: Self.id1, from: "alice@hq", to: "wu@traffic", kind: EnvelopeKind.burn.rawValue, sentAt: sentAt, body: body)
        var viewed = Burn.Receipt(burn: Self.id1, sender: "alice@hq", node: "traffic", event: .viewed, subject: "wu@traffic",
                                  deletedAt: 1_764_000_060_000)
        viewed.sign(with: node)
        var forwarded = Burn.Receipt(burn: Self.id1, sender: "alice@hq", node: "traffic", event: .forwarded,
                                     subject: "district via city", deletedAt: 1_764_000_001_000)
        forwarded.sign(with: node)
        let capture = Burn.Capture(burn: Self.id1, at: 1_764_000_070_000, how: "screenshot").encode()
        let quote = Quote.body(ref: Self.id1, rest: [0xDE, 0xAD, 0xBE, 0xEF])
        if Self.writing {
            try save("burn.json", [
                "description": "Burn after reading (SPEC.md 'Burn after reading'): a burn body (1:1, keys and nonce of e2e.json) with its content and notice, signed deletion receipts (node sign seed 0x61..0x80), a capture report's content and a quoting body.",
                "sender_box_secret": Hex.encode(seq(0x01, 32)), "recipient_box_secret": Hex.encode(seq(0x41, 32)),
                "nonce": Hex.encode(seq(0x81, 24)), "node_sign_seed": Hex.encode(seq(0x61, 32)), "node_sign_public": Hex.encode(node.publicKey),
                "id": Self.id1.hex, "from": "alice@hq", "to": "wu@traffic", "sent_at": sentAt, "expires_at": expiresAt,
                "text_utf8": "Gate code 4471.", "image_name": "a.png", "image": "89504e47",
                "content": Hex.encode(content.encode()), "burn_body": Hex.encode(body), "notice_body": Hex.encode(Burn.notice(of: envelope).body),
                "receipt_viewed": Hex.encode(viewed.encode()), "receipt_viewed_signed": Hex.encode(viewed.signedBytes),
                "receipt_viewed_message_id": viewed.messageID.hex,
                "receipt_forwarded": Hex.encode(forwarded.encode()), "receipt_forwarded_message_id": forwarded.messageID.hex,
                "capture_content": Hex.encode(capture), "quote_body": Hex.encode(quote),
            ])
        }
        let v = try load("burn.json")
        XCTAssertEqual(Hex.encode(content.encode()), v["content"] as? String)
        XCTAssertEqual(Hex.encode(body), v["burn_body"] as? String)
        XCTAssertEqual(Hex.encode(Burn.notice(of: envelope).body), v["notice_body"] as? String)
        XCTAssertEqual(Hex.encode(viewed.encode()), v["receipt_viewed"] as? String)
        XCTAssertEqual(Hex.encode(viewed.signedBytes), v["receipt_viewed_signed"] as? String)
        XCTAssertEqual(viewed.messageID.hex, v["receipt_viewed_message_id"] as? String)
        XCTAssertEqual(Hex.encode(forwarded.encode()), v["receipt_forwarded"] as? String)
        XCTAssertEqual(forwarded.messageID.hex, v["receipt_forwarded_message_id"] as? String)
        XCTAssertEqual(Hex.encode(capture), v["capture_content"] as? String)
        XCTAssertEqual(Hex.encode(quote), v["quote_body"] as? String)
        // Decoded back; verified with the node's key only; the recipient opens the content.
        let decoded = try Burn.Receipt.decode(bytes(try XCTUnwrap(v["receipt_viewed"] as? String)))
        XCTAssertEqual(decoded, viewed)
        XCTAssertTrue(decoded.verify(nodeKey: node.publicKey))
        XCTAssertFalse(decoded.verify(nodeKey: sender.publicKey))
        var moved = decoded
        moved.sender = "mallory@hq"
        XCTAssertFalse(moved.verify(nodeKey: node.publicKey), "a receipt cannot be moved to another sender")
        let back = try XCTUnwrap(BoxSharedKey(theirPublicKey: sender.publicKey, mySecretKey: recipient.secretKey))
        var inner = envelope
        inner.body = try Burn.split(body).sealed
        XCTAssertEqual(try Burn.Content.decode(try Sealed.open(inner, key: back)), content)
        XCTAssertEqual(try Burn.Capture.decode(capture), Burn.Capture(burn: Self.id1, at: 1_764_000_070_000, how: "screenshot"))
    }

    // MARK: invite code

    func testInviteCodeVector() throws {
        let code = InviteCode(node: "hq", user: "wu", endpoint: "tcp://10.1.2.3:7400", nodeCurveKey: seq(0x10, 32),
                              nodeSignKey: seq(0x30, 32), secret: seq(0x50, 32), expiresAt: 1_764_086_400)
        if Self.writing {
            try save("invite.json", [
                "description": "Invite code text (SPEC.md 'Invite code').",
                "node": code.node, "user": code.user, "endpoint": code.endpoint,
                "node_curve_key": Hex.encode(code.nodeCurveKey), "node_sign_key": Hex.encode(code.nodeSignKey),
                "invite_secret": Hex.encode(code.secret), "expires_at": Int(code.expiresAt),
                "text": code.text,
            ])
        }
        let v = try load("invite.json")
        XCTAssertEqual(code.text, v["text"] as? String)
        let parsed = try InviteCode(text: try XCTUnwrap(v["text"] as? String))
        XCTAssertEqual(parsed.endpoint, "tcp://10.1.2.3:7400")
        XCTAssertEqual(parsed.secret, seq(0x50, 32))
    }
}
