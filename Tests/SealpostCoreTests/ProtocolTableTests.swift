import Foundation
import SealpostCore
import XCTest

/// The command tables are declared once in code (`CommandID`, `PeerCommandID`) and once in
/// protocol/SPEC.md; these tests read the spec's Markdown and compare the two, both ways:
/// a command in the code but not in the spec fails, and so does one in the spec but not
/// in the code, or one whose id, name, direction or section differs.
final class ProtocolTableTests: XCTestCase {
    static let specURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("protocol/SPEC.md")

    /// One row of a command table, or one command heading, as the spec writes it.
    struct Row: Equatable, CustomStringConvertible {
        var id: UInt8
        var name: String
        /// The sides that send it: "C"/"S" (client protocol) or "N"/"S"/"P" (node to node).
        var senders: Set<String>
        var section: String
        var description: String { "\(Hex.encode([id])) \(name) \(senders.sorted()) \(section)" }
    }

    struct MissingSection: Error { var heading: String }

    static func spec() throws -> String { try String(contentsOf: specURL, encoding: .utf8) }

    /// The lines of the section that starts with heading `heading`, up to the next heading
    /// of the same or a higher level.
    static func section(_ heading: String, in text: String) throws -> [String] {
        let lines = text.components(separatedBy: "\n")
        guard let start = lines.firstIndex(of: heading) else {
            throw MissingSection(heading: heading)
        }
        let level = heading.prefix { $0 == "#" }.count
        var out: [String] = []
        for line in lines[(start + 1)...] {
            let hashes = line.prefix { $0 == "#" }.count
            if hashes > 0, hashes <= level, line.dropFirst(hashes).hasPrefix(" ") { break }
            out.append(line)
        }
        return out
    }

    /// The rows of the first Markdown table in `lines` whose first cell is a backquoted id.
    static func tableRows(_ lines: [String], senders: (String) -> Set<String>) -> [Row] {
        lines.compactMap { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            // "| `01` | ENROLL | client → node | 6.1 |" splits into "", 4 cells, "".
            guard cells.count == 6, cells[1].hasPrefix("`"), cells[1].hasSuffix("`"),
                  let id = UInt8(cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`")), radix: 16) else { return nil }
            return Row(id: id, name: cells[2], senders: senders(cells[3]), section: cells[4])
        }
    }

    /// The command headings of the spec: "### 6.25 FILE-CHUNK — `1A`, client → node (upload) and …".
    static func headingRows(_ text: String, prefix: String, senders: (String) -> Set<String>) -> [Row] {
        let pattern = try! NSRegularExpression(pattern: "^#{3,4} (\(prefix)[0-9.]*) ([A-Z][A-Z-]*) — `([0-9A-F]{2})`, (.*)$",
                                               options: .anchorsMatchLines)
        let ns = text as NSString
        return pattern.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { m in
            Row(id: UInt8(ns.substring(with: m.range(at: 3)), radix: 16)!, name: ns.substring(with: m.range(at: 2)),
                senders: senders(ns.substring(with: m.range(at: 4))), section: ns.substring(with: m.range(at: 1)))
        }
    }

    static func clientSenders(_ cell: String) -> Set<String> {
        var out: Set<String> = []
        if cell.contains("client → node") { out.insert("C") }
        if cell.contains("node → client") { out.insert("S") }
        return out
    }

    static func peerSenders(_ cell: String) -> Set<String> {
        var out: Set<String> = []
        if cell.contains("N:") || cell.contains("N → S") { out.insert("N") }
        if cell.contains("S:") || cell.contains("S → N") { out.insert("S") }
        if cell.contains("P:") || cell.contains("published") { out.insert("P") }
        return out
    }

    static func senders(_ d: CommandDirection) -> Set<String> {
        switch d {
        case .clientToNode: return ["C"]
        case .nodeToClient: return ["S"]
        case .both: return ["C", "S"]
        }
    }

    static func senders(_ d: PeerCommandDirection) -> Set<String> {
        switch d {
        case .nodeToServer: return ["N"]
        case .serverToNode: return ["S"]
        case .both: return ["N", "S"]
        case .published: return ["P"]
        }
    }

    /// The rows the code declares, without sections (the spec's headings supply those).
    static var clientCode: [Row] {
        CommandID.allCases.map { Row(id: $0.rawValue, name: $0.name, senders: senders($0.direction), section: "") }
    }

    static var peerCode: [Row] {
        PeerCommandID.allCases.map { Row(id: $0.rawValue, name: $0.name, senders: senders($0.direction), section: "") }
    }

    /// Compares by id both ways, then name and senders of each id.
    func assertSame(_ spec: [Row], _ code: [Row], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(spec.isEmpty, "\(what): no rows found", file: file, line: line)
        let specIds = spec.map(\.id), codeIds = code.map(\.id)
        XCTAssertEqual(specIds.count, Set(specIds).count, "\(what): an id listed twice", file: file, line: line)
        for row in code where !specIds.contains(row.id) {
            XCTFail("\(what): \(row) is in the code but not in the spec", file: file, line: line)
        }
        for row in spec where !codeIds.contains(row.id) {
            XCTFail("\(what): \(row) is in the spec but not in the code", file: file, line: line)
        }
        for row in spec {
            guard let mine = code.first(where: { $0.id == row.id }) else { continue }
            XCTAssertEqual(row.name, mine.name, "\(what): name of id \(Hex.encode([row.id]))", file: file, line: line)
            XCTAssertEqual(row.senders, mine.senders, "\(what): direction of \(row.name)", file: file, line: line)
        }
        XCTAssertEqual(specIds, specIds.sorted(), "\(what): ids in order", file: file, line: line)
    }

    // MARK: client ↔ node

    func testSection4_2TableIsCommandID() throws {
        let rows = Self.tableRows(try Self.section("### 4.2 Command ids", in: try Self.spec()), senders: Self.clientSenders)
        assertSame(rows, Self.clientCode, "SPEC 4.2")
    }

    /// 4.2's prose gives the node-to-node range and the unassigned ids: with the table they
    /// cover every byte once.
    func testSection4_2AccountsForEveryIdOnce() throws {
        let text = try Self.section("### 4.2 Command ids", in: try Self.spec())
            .filter { !$0.hasPrefix("|") }.joined(separator: " ")
        guard let peers = text.range(of: #"Ids `[0-9A-F]{2}` to `[0-9A-F]{2}` are node-to-node"#, options: .regularExpression),
              let unassigned = text.range(of: #"ids [^.]* are unassigned"#, options: .regularExpression) else {
            return XCTFail("SPEC 4.2 no longer names the node-to-node and unassigned ids")
        }
        var count = [Int](repeating: 0, count: 256)
        for id in CommandID.allCases { count[Int(id.rawValue)] += 1 }
        for part in [text[peers], text[unassigned]] {
            let pattern = try NSRegularExpression(pattern: "`([0-9A-F]{2})`(?: to `([0-9A-F]{2})`)?")
            let ns = String(part) as NSString
            for m in pattern.matches(in: String(part), range: NSRange(location: 0, length: ns.length)) {
                let low = Int(ns.substring(with: m.range(at: 1)), radix: 16)!
                let high = m.range(at: 2).location == NSNotFound ? low : Int(ns.substring(with: m.range(at: 2)), radix: 16)!
                for id in low...high { count[id] += 1 }
            }
        }
        XCTAssertEqual(count.indices.filter { count[$0] != 1 }.map { Hex.encode([UInt8($0)]) }, [],
                       "ids in no or several of: the table, the node-to-node range, the unassigned ids")
        let peerRange = PeerCommandID.allCases.map(\.rawValue)
        XCTAssertTrue(peerRange.allSatisfy { (0x20...0x3F).contains($0) }, "peer ids within 20 to 3F")
    }

    func testSection6HeadingsAreCommandIDAndThe4_2Table() throws {
        let text = try Self.spec()
        let headings = Self.headingRows(text, prefix: "6\\.", senders: Self.clientSenders)
        assertSame(headings, Self.clientCode, "SPEC 6 headings")
        let table = Self.tableRows(try Self.section("### 4.2 Command ids", in: text), senders: Self.clientSenders)
        for row in table {
            XCTAssertEqual(headings.first { $0.id == row.id }?.section, row.section, "4.2's section of \(row.name)")
        }
    }

    /// Every command of the §5 grammar exists and is sent by the side that the grammar gives it
    /// (`C:` client, `S:` node), and every command and side of `CommandID` is in the grammar.
    func testSection5GrammarUsesEveryCommandOnItsSide() throws {
        let lines = try Self.section("## 5. Grammar", in: try Self.spec())
        guard let open = lines.firstIndex(of: "```"), let close = lines[(open + 1)...].firstIndex(of: "```") else {
            return XCTFail("no grammar block in SPEC 5")
        }
        let grammar = lines[(open + 1)..<close].map { $0.components(separatedBy: ";")[0] }.joined(separator: "\n")
        let used = Self.tokens(grammar, sides: "CS")
        for (side, name) in used {
            guard let id = CommandID.allCases.first(where: { $0.name == name }) else {
                XCTFail("SPEC 5 grammar: \(side):\(name) is not a command"); continue
            }
            XCTAssertTrue(Self.senders(id.direction).contains(side), "SPEC 5 grammar: \(side):\(name) against \(id.direction)")
        }
        for id in CommandID.allCases {
            for side in Self.senders(id.direction) {
                XCTAssertTrue(used.contains { $0 == (side, id.name) }, "SPEC 5 grammar lacks \(side):\(id.name)")
            }
        }
    }

    /// §5's rule lists the node → client commands that a node refuses from a client with ERROR 400:
    /// exactly the commands `CommandID` says only nodes send (the node's check asks the same enum).
    func testSection5ListsEveryNodeToClientCommand() throws {
        let text = try Self.section("## 5. Grammar", in: try Self.spec())
            .joined(separator: " ").split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard let range = text.range(of: #"a node → client command \(([^)]*)\)"#, options: .regularExpression) else {
            return XCTFail("SPEC 5 no longer lists the node → client commands a node refuses")
        }
        let inner = text[range].drop { $0 != "(" }.dropFirst().dropLast()
        let listed = Set(inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let nodeOnly = Set(CommandID.allCases.filter { !$0.direction.clientSends }.map(\.name))
        XCTAssertEqual(listed.subtracting(nodeOnly).sorted(), [], "SPEC 5 lists commands clients may send")
        XCTAssertEqual(nodeOnly.subtracting(listed).sorted(), [], "SPEC 5's list lacks node → client commands")
    }

    // MARK: node ↔ node

    func testSection11_4TableIsPeerCommandID() throws {
        let rows = Self.tableRows(try Self.section("### 11.4 Command ids", in: try Self.spec()), senders: Self.peerSenders)
        assertSame(rows, Self.peerCode, "SPEC 11.4")
    }

    func testSection11_5HeadingsArePeerCommandIDAndThe11_4Table() throws {
        let text = try Self.spec()
        let headings = Self.headingRows(text, prefix: "11\\.5\\.", senders: Self.peerSenders)
        assertSame(headings, Self.peerCode, "SPEC 11.5 headings")
        let table = Self.tableRows(try Self.section("### 11.4 Command ids", in: text), senders: Self.peerSenders)
        for row in table {
            XCTAssertEqual(headings.first { $0.id == row.id }?.section, row.section, "11.4's section of \(row.name)")
        }
    }

    /// The §11.5 grammar: `N:` on the DEALER, `S:` the ROUTER's answer, `P:` published.
    func testSection11_5GrammarUsesEveryCommandOnItsSocket() throws {
        let lines = try Self.section("### 11.5 Grammar and commands", in: try Self.spec())
        guard let open = lines.firstIndex(of: "```"), let close = lines[(open + 1)...].firstIndex(of: "```") else {
            return XCTFail("no grammar block in SPEC 11.5")
        }
        let grammar = lines[(open + 1)..<close].map { $0.components(separatedBy: ";")[0] }.joined(separator: "\n")
        let used = Self.tokens(grammar, sides: "NSP")
        for (side, name) in used {
            guard let id = PeerCommandID.allCases.first(where: { $0.name == name }) else {
                XCTFail("SPEC 11.5 grammar: \(side):\(name) is not a command"); continue
            }
            XCTAssertTrue(Self.senders(id.direction).contains(side), "SPEC 11.5 grammar: \(side):\(name) against \(id.direction)")
        }
        for id in PeerCommandID.allCases {
            for side in Self.senders(id.direction) {
                XCTAssertTrue(used.contains { $0 == (side, id.name) }, "SPEC 11.5 grammar lacks \(side):\(id.name)")
            }
        }
    }

    /// `X:NAME` tokens of a grammar, for the sides `sides`.
    static func tokens(_ grammar: String, sides: String) -> [(String, String)] {
        let pattern = try! NSRegularExpression(pattern: "\\b([\(sides)]):([A-Z][A-Z-]*[A-Z])")
        let ns = grammar as NSString
        return pattern.matches(in: grammar, range: NSRange(location: 0, length: ns.length)).map {
            (ns.substring(with: $0.range(at: 1)), ns.substring(with: $0.range(at: 2)))
        }
    }

    // MARK: the code's own tables

    /// Decoding dispatches on the enums: every id of `CommandID` (`PeerCommandID`) is decoded
    /// as that command, and every other byte is `WireError.unknownCommand`.
    func testDecodeKnowsExactlyTheEnumsIds() {
        for byte in UInt8.min...UInt8.max {
            let header: [UInt8] = [0xAA, 0x5C, 0x01, byte]
            let client = Result { try Command.decode(header) }, peer = Result { try PeerCommand.decode(header) }
            XCTAssertEqual(Self.isUnknown(client), CommandID(rawValue: byte) == nil, "client id \(byte)")
            XCTAssertEqual(Self.isUnknown(peer), PeerCommandID(rawValue: byte) == nil, "peer id \(byte)")
        }
    }

    static func isUnknown<T>(_ result: Result<T, Error>) -> Bool {
        if case .failure(let error) = result, case .unknownCommand? = error as? WireError { return true }
        return false
    }

    /// The two protocols' ids do not overlap, and every id decodes to its own enum only
    /// (a node decodes a client's frame against the client table only, SPEC 4.2).
    func testTablesAreDisjointAndNamesUnique() {
        XCTAssertTrue(Set(CommandID.allCases.map(\.rawValue)).isDisjoint(with: PeerCommandID.allCases.map(\.rawValue)))
        XCTAssertEqual(Set(CommandID.allCases.map(\.name)).count, CommandID.allCases.count)
        XCTAssertEqual(Set(PeerCommandID.allCases.map(\.name)).count, PeerCommandID.allCases.count)
        for id in PeerCommandID.allCases {
            XCTAssertTrue(PeerCommand.isPeerFrame([0xAA, 0x5C, 0x01, id.rawValue]), id.name)
        }
        for id in CommandID.allCases {
            XCTAssertFalse(PeerCommand.isPeerFrame([0xAA, 0x5C, 0x01, id.rawValue]), id.name)
        }
    }
}
