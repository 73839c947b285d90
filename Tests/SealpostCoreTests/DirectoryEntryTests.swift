import SealpostCore
import Sodium
import XCTest

final class DirectoryEntryTests: XCTestCase {
    let node = SignKeyPair.generate()

    func signedEntry() -> DirectoryEntry {
        var entry = DirectoryEntry(address: "wu@traffic", display: "Wu Lei 吴磊", boxKey: BoxKeyPair.generate().publicKey,
                                   signKey: SignKeyPair.generate().publicKey, updatedAt: 1_764_000_000_123)
        entry.sign(with: node)
        return entry
    }

    func testSignedEntryVerifiesWithTheNodeKeyOnly() {
        let entry = signedEntry()
        XCTAssertEqual(entry.signature.count, 64)
        XCTAssertTrue(entry.verify(nodeKey: node.publicKey))
        XCTAssertFalse(entry.verify(nodeKey: SignKeyPair.generate().publicKey))
        XCTAssertFalse(entry.verify(nodeKey: []))
    }

    func testUnsignedEntryDoesNotVerify() {
        let entry = DirectoryEntry(address: "wu@traffic", display: "", boxKey: [UInt8](repeating: 1, count: 32),
                                   signKey: [UInt8](repeating: 2, count: 32), updatedAt: 1)
        XCTAssertFalse(entry.verify(nodeKey: node.publicKey))
    }

    func testAnyAlteredFieldBreaksTheSignature() {
        let entry = signedEntry()
        var changes: [(String, DirectoryEntry)] = []
        var e = entry; e.address = "mallory@traffic"; changes.append(("address", e))
        e = entry; e.display = "Wu Lei 吴磊 "; changes.append(("display", e))
        e = entry; e.display = ""; changes.append(("empty display", e))
        e = entry; e.updatedAt += 1; changes.append(("updatedAt", e))
        for i in [0, 17, 31] {
            e = entry; e.boxKey[i] ^= 0x80; changes.append(("boxKey[\(i)]", e))
            e = entry; e.signKey[i] ^= 0x01; changes.append(("signKey[\(i)]", e))
        }
        // Swapping the two keys must not verify either.
        e = entry; (e.boxKey, e.signKey) = (entry.signKey, entry.boxKey); changes.append(("swapped keys", e))
        for i in 0..<64 {
            e = entry; e.signature[i] ^= 0x04; changes.append(("signature[\(i)]", e))
        }
        for (what, changed) in changes {
            XCTAssertFalse(changed.verify(nodeKey: node.publicKey), what)
        }
    }

    func testEncodeDecodeRoundTrip() throws {
        let entry = signedEntry()
        let bytes = entry.encode()
        XCTAssertEqual(bytes.count, (1 + 10) + (1 + 13) + 32 + 32 + 8 + 64)
        let decoded = try DirectoryEntry.decode(bytes)
        XCTAssertEqual(decoded, entry)
        XCTAssertTrue(decoded.verify(nodeKey: node.publicKey))
    }

    func testSignedBytesStartWithTheContext() {
        let entry = signedEntry()
        XCTAssertEqual(Array(entry.signedBytes.prefix(15)), Array("sealpost-dir-v1".utf8))
        // The rest is the encoding without the signature.
        XCTAssertEqual(Array(entry.signedBytes.dropFirst(15)), Array(entry.encode().dropLast(64)))
    }

    func testDecodeRejectsTruncatedAndTrailingBytes() {
        let bytes = signedEntry().encode()
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try DirectoryEntry.decode(Array(bytes.prefix(length)))) { error in
                guard case .truncated? = error as? WireError else { return XCTFail("cut to \(length): \(error)") }
            }
        }
        // One byte after the signature is the clearance (section 9.7); more is trailing.
        XCTAssertThrowsError(try DirectoryEntry.decode(bytes + [0, 0])) { error in
            XCTAssertEqual(error as? WireError, .trailingBytes(1))
        }
        XCTAssertThrowsError(try DirectoryEntry.decode(bytes + [UInt8](repeating: 9, count: 64))) { error in
            XCTAssertEqual(error as? WireError, .trailingBytes(63))
        }
        XCTAssertThrowsError(try DirectoryEntry.decode(bytes + [16])) { error in
            guard case .invalid(field: "clearance", _)? = error as? WireError else { return XCTFail("\(error)") }
        }
    }

    func testDecodeRejectsAnInvalidAddress() {
        for address in ["wu", "Wu@traffic", "", "wu@traffic@x"] {
            var entry = signedEntry()
            entry.address = address
            entry.sign(with: node)
            XCTAssertThrowsError(try DirectoryEntry.decode(entry.encode()), address) { error in
                XCTAssertEqual(error as? WireError, .invalid(field: "address", reason: "not an address"))
            }
        }
    }
}
