import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// Forwarding files and cards (protocol/SPEC.md 7.9.3, 7.9.5): a file is not uploaded again —
/// its key is sealed for the new recipient, whose node pulls it from the forwarder's node;
/// a view-once file is refused by the client and the node.
final class ForwardFileTests: XCTestCase {
    func testAForwardedFileIsPulledFromTheForwardersNodeAndOpens() throws {
        let f = try ForwardFederation()
        defer { f.close() }
        let li = f.client("li@hq"), bob = f.client("bob@traffic"), zhao = f.client("zhao@district")
        let root = f.nodes["hq"]!.root
        let path = root + "/plan.bin"
        let data = Sodium.randomBytes(2 * FileChunks.plainChunkBytes + 77)
        FileManager.default.createFile(atPath: path, contents: Data(data))
        let sent = try li.sendFile(to: Address("bob@traffic")!, path: path, uploads: UploadBook(profilePath: f.nodes["hq"]!.profilePath("li")))
        let offer = try f.next("bob@traffic") { $0.id == sent.id }
        let source = try XCTUnwrap(offer.forwardable, "a file offer carries its origin")
        XCTAssertNil(source.problem)
        XCTAssertEqual(source.offer?.fileId, sent.fileId)
        _ = try bob.fetchFile(try XCTUnwrap(offer.file), to: root + "/bob.bin")
        let uploadsBefore = try f.nodes["hq"]!.status()["files"] as? [String: Any]

        let fwd = try bob.forward(source, to: [Address("zhao@district")!], groups: [:], note: "the plan")
        let got = try f.next("zhao@district") { $0.id == fwd[0].id }
        XCTAssertEqual(got.kind, "file")
        XCTAssertEqual(got.forward?.check.status, .verified, "\(got.forward?.check.problems ?? [])")
        let manifest = try XCTUnwrap(got.file)
        XCTAssertEqual(manifest.fileId, sent.fileId, "the same file, not uploaded again")
        let out = root + "/zhao.bin"
        _ = try zhao.fetchFile(manifest, to: out)
        XCTAssertEqual(FileManager.default.contents(atPath: out), Data(data))
        XCTAssertNotNil(uploadsBefore?["files"] as? Int)
        XCTAssertEqual((try f.nodes["hq"]!.status()["files"] as? [String: Any])?["files"] as? Int, uploadsBefore?["files"] as? Int,
                       "nothing new on the origin's node: the file was not uploaded again")
        XCTAssertEqual((try f.nodes["district"]!.status()["files"] as? [String: Any])?["complete"] as? Int, 1, "district holds its pulled copy")
        // District pulled it from traffic, the forwarder's node (the record names it as the origin of the pull).
        let hops = try Operator.auditRecords(dataDir: f.nodes["district"]!.dir, filter: AuditFilter(kind: .forwardHop, ref: fwd[0].id))
        XCTAssertEqual(hops.count, 1)
    }

    func testViewOnceFilesAndCardsAtTheClientAndTheNode() throws {
        let f = try ForwardFederation()
        defer { f.close() }
        let li = f.client("li@hq"), chen = f.client("chen@hq")
        let root = f.nodes["hq"]!.root
        let path = root + "/once.bin"
        FileManager.default.createFile(atPath: path, contents: Data(Sodium.randomBytes(1000)))
        let sent = try li.sendFile(to: Address("chen@hq")!, path: path, burn: true, uploads: UploadBook(profilePath: f.nodes["hq"]!.profilePath("li")))
        let once = try f.next("chen@hq") { $0.id == sent.id }
        XCTAssertNil(once.forwardable, "a view-once file carries no origin")
        // A modified client dresses it up with an origin of its own making: the client library and the node refuse it.
        let manifest = try XCTUnwrap(once.file)
        let provenance = Provenance.make(id: sent.id, sender: "chen@hq", to: "chen@hq", sentAt: 1, kind: .file, content: manifest.encode(),
                                         policy: ForwardPolicy(scope: .anywhere), key: chen.profile.sign)
        let source = ForwardSource(id: sent.id, from: "chen@hq", via: "chen@hq", origin: provenance.origin, hops: [],
                                   offer: FileOffer(fileId: manifest.fileId, cipherSize: manifest.cipherSize, chunks: manifest.chunks),
                                   content: manifest.encode(), hashKey: provenance.hashKey, problem: nil)
        XCTAssertThrowsError(try chen.forward(source, to: [Address("gao@hq")!], groups: [:])) { XCTAssertEqual("\($0)", "view-once files cannot be forwarded") }
        let envelopes = try chen.prepareForward(source, to: [Address("gao@hq")!], groups: [:], note: "")
        XCTAssertThrowsError(try chen.store(envelopes[0])) { error in
            guard case ClientError.refused(let code, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, 422)
            XCTAssertTrue(reason == "view-once files cannot be forwarded" || reason == "burn messages cannot be forwarded or quoted", reason)
        }

        // A contact card forwards like a text, and stays checkable.
        let cardId = try li.sendCard(to: Address("chen@hq")!, contact: Address("zhao@district")!)
        let card = try f.next("chen@hq") { $0.id == cardId }
        let fwd = try chen.forward(try XCTUnwrap(card.forwardable), to: [Address("bob@traffic")!], groups: [:])
        let got = try f.next("bob@traffic") { $0.id == fwd[0].id }
        XCTAssertEqual(got.kind, "card")
        XCTAssertEqual(got.card?.address, "zhao@district")
        XCTAssertEqual(got.card?.verified, true)
        XCTAssertEqual(got.forward?.check.status, .verified)
    }
}
