import Foundation
import Logging
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import XCTest

/// Forged and altered chains (protocol/SPEC.md 7.9.5, 7.9.6): the forwarder's node refuses
/// what it can check; what only a reader can check (the content hash), and a header a node
/// on the way altered, the recipient shows as forged, never hidden. Content never reaches
/// a node's database, files or log.
final class ForwardForgeryTests: XCTestCase {
    /// A forward of li@hq's text by bob@traffic to zhao@district, built and not sent, and zhao's source for it.
    func built(_ f: ForwardFederation, text: String) throws -> (source: ForwardSource, envelope: Envelope) {
        let id = try f.client("li@hq").sendText(to: Address("bob@traffic")!, text: text)
        let source = try XCTUnwrap(try f.next("bob@traffic") { $0.id == id }.forwardable)
        let e = try f.client("bob@traffic").prepareForward(source, to: [Address("zhao@district")!], groups: [:], note: "see below")
        return (source, e[0])
    }

    /// The envelope as zhao's node would deliver it (stamped), with its clear header changed by `alter`.
    func altered(_ e: Envelope, _ alter: (inout ForwardHeader) -> Void) throws -> Envelope {
        var (header, sealed) = try ForwardHeader.split(e.body)
        alter(&header)
        var out = e
        out.from = "bob@traffic"
        out.body = header.body(sealed: sealed)
        return out
    }

    func testForgedSignaturesAndAlteredContentAreShownAsForged() throws {
        let f = try ForwardFederation()
        defer { f.close() }
        let bob = f.client("bob@traffic"), zhao = f.client("zhao@district")

        // A hop signature that is not bob's: his own node refuses it …
        let (_, e) = try built(f, text: "forgery one")
        let forgedHop = try altered(e) { $0.hops[0].signature[5] ^= 0x40 }
        var sent = forgedHop
        sent.from = ""
        XCTAssertThrowsError(try bob.store(sent)) { error in
            XCTAssertTrue("\(error)".contains("hop 1: the signature is not bob@traffic's"), "\(error)")
        }
        // … and a node on the way that changes it is caught by the recipient, who shows it.
        let shown = try zhao.open(forgedHop, seq: 1)
        XCTAssertEqual(shown.forward?.check.status, .forged)
        XCTAssertEqual(shown.forward?.check.records[1].signatureValid, false)
        XCTAssertTrue(shown.forward!.summary.contains("FORGED OR BROKEN CHAIN: hop 1: the signature is not bob@traffic's"), shown.forward!.summary)
        XCTAssertEqual(shown.text, "forgery one", "shown, never hidden")
        XCTAssertNotNil(shown.forwardable?.problem, "and not forwardable on")
        XCTAssertThrowsError(try zhao.forward(shown.forwardable!, to: [Address("wu@school")!], groups: [:]))

        // The origin's content hash altered: the origin's signature breaks (node and recipient).
        let hashAltered = try altered(e) { $0.origin.contentHash[0] ^= 1 }
        XCTAssertEqual(try zhao.open(hashAltered, seq: 2).forward?.check.problems.first, "origin: the signature is not li@hq's (forged or altered)")
        var hashSent = hashAltered
        hashSent.from = ""
        XCTAssertThrowsError(try bob.store(hashSent)) { XCTAssertTrue("\($0)".contains("origin: the signature is not li@hq's"), "\($0)") }
        // A hop removed: the links break.
        let dropped = try altered(e) { h in h.hops[0].parent = [UInt8](repeating: 9, count: 32) }
        XCTAssertTrue(try zhao.open(dropped, seq: 3).forward!.check.problems.contains { $0.contains("does not link to the origin") })

        // Altered content under a genuine origin: no node can tell (the hash is keyed), the recipient can.
        let (source, _) = try built(f, text: "the real text")
        var changed = source
        changed.content = Array("a different text".utf8)
        let sneaky = try bob.prepareForward(changed, to: [Address("zhao@district")!], groups: [:], note: "")
        try bob.store(sneaky[0])
        let got = try f.next("zhao@district") { $0.id == sneaky[0].id }
        XCTAssertEqual(got.text, "a different text")
        XCTAssertEqual(got.forward?.check.status, .forged)
        XCTAssertEqual(got.forward?.check.problems.first, "content: it does not match the origin's hash (altered on the way)")
        // The nodes countersigned it with a chain they could verify (they cannot see the content).
        let hops = try Operator.auditRecords(dataDir: f.nodes["district"]!.dir, filter: AuditFilter(kind: .forwardHop, ref: sneaky[0].id))
        XCTAssertEqual(hops.count, 1)
    }

    func testContentNeverReachesANodesFilesOrLog() throws {
        let lines = CollectedLines()
        var logger = Logger(label: "test.forward") { _ in CollectingHandler(lines: lines) }
        logger.logLevel = .debug
        let f = try ForwardFederation(logger: logger)
        defer { f.close() }
        let marker = "FWD-CONTENT-\(UUID().uuidString)"
        let chain = try f.chain(text: marker)
        XCTAssertEqual(chain.last.text, marker)
        XCTAssertEqual(chain.last.forward?.check.status, .verified)
        let note = "NOTE-\(UUID().uuidString)"
        let first = try f.client("li@hq").sendText(to: Address("wu@school")!, text: marker + " again")
        let source = try XCTUnwrap(try f.next("wu@school") { $0.id == first }.forwardable)
        let id = try f.client("wu@school").forward(source, to: [Address("ma@traffic")!], groups: [:], note: note)
        XCTAssertEqual(try f.next("ma@traffic") { $0.id == id[0].id }.forward?.note, note)
        for node in f.nodes.values { node.stop() }
        var scanned = 0
        for node in f.nodes.values {
            let files = FileManager.default.enumerator(atPath: node.dir.path)?.compactMap { $0 as? String } ?? []
            for file in files where !file.hasSuffix(".sock") {
                var isDir: ObjCBool = false
                let path = node.dir.path + "/" + file
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                      let data = FileManager.default.contents(atPath: path) else { continue }
                scanned += 1
                XCTAssertNil(data.range(of: Data(marker.utf8)), "content in \(node.name)/\(file)")
                XCTAssertNil(data.range(of: Data(note.utf8)), "note in \(node.name)/\(file)")
            }
        }
        XCTAssertGreaterThan(scanned, 8)
        let logged = lines.all
        XCTAssertTrue(logged.contains { $0.contains("forward") || $0.contains("user enrolled") }, "the log was captured")
        XCTAssertFalse(logged.contains { $0.contains(marker) || $0.contains(note) })
    }
}

final class CollectedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}

/// Keeps every line and its metadata, at every level.
struct CollectingHandler: LogHandler {
    let lines: CollectedLines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
             function: String, line: UInt) {
        lines.append("\(level) \(message) \(self.metadata.merging(metadata ?? [:]) { $1 })")
    }
}
