import Foundation
@testable import SealpostNode
import SealpostCore
import Sodium
import XCTest

/// The audit tables over a real database file: proofs from the kept subtrees are the RFC 6962
/// paths, at every position and tree size, without reading the whole log.
final class AuditStoreTests: XCTestCase {
    var root = ""
    var store: NodeStore!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "sealpost-audit-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        store = try NodeStore(path: root + "/node.db")
    }

    override func tearDown() {
        store?.close()
        try? FileManager.default.removeItem(atPath: root)
    }

    func testProofsFromKeptSubtreesAreTheRFC6962PathsAtEverySize() throws {
        var seed = [UInt8](repeating: 7, count: 32)
        let key = try XCTUnwrap(SignKeyPair(seed: &seed))
        var records: [AuditRecord] = []
        try store.begin()
        for i in 0..<70 {
            records.append(try store.appendAudit(.userDisabled(user: "u\(i)@hq", by: AuditActor.operator), time: UInt64(i)))
        }
        try store.commit()
        XCTAssertEqual(try store.db.first("SELECT COUNT(*) FROM audit_subtrees") { $0.int(0) }, 4 + 2 + 1,
                       "70 leaves: four subtrees of 16, two of 32, one of 64")
        let hashes = records.map(\.hash)
        for size in [1, 2, 15, 16, 17, 33, 64, 65, 70] {
            var f = AuditFrontier()
            for h in hashes.prefix(size) { f.append(recordHash: h) }
            let head = AuditHead(node: "hq", position: UInt64(size), root: f.root, time: 1).signed(with: key)
            let proofs = try store.auditProofs(of: Array(records.prefix(size)), head: head)
            XCTAssertEqual(proofs.count, size)
            for (i, proof) in proofs.enumerated() {
                XCTAssertEqual(proof.path, AuditTree.path(i, hashes.prefix(size).map(AuditTree.leaf)[...]), "leaf \(i) of \(size)")
                XCTAssertNoThrow(try proof.verify(nodeKey: key.publicKey))
            }
        }
        // A record above the head gets no proof.
        var f = AuditFrontier()
        for h in hashes.prefix(10) { f.append(recordHash: h) }
        let head = AuditHead(node: "hq", position: 10, root: f.root, time: 1).signed(with: key)
        XCTAssertTrue(try store.auditProofs(of: [records[40]], head: head).isEmpty)
    }
}
