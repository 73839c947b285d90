import Foundation
import SealpostCore
import Sodium
import XCTest

/// protocol/vectors/file.json (SPEC.md 18.9): the chunk encryption, the manifest
/// and offer bodies, the file commands of both protocols and the size rules.
/// `SEALPOST_WRITE_VECTORS=1 swift test --filter FileVectorTests` rewrites it.
final class FileVectorTests: XCTestCase {
    static let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("protocol/vectors/file.json")

    static func seq(_ start: UInt8, _ count: Int) -> [UInt8] { (0..<count).map { start &+ UInt8($0) } }
    static let key = seq(0x40, 32)
    static let header = seq(0x80, 24)
    static let fileId = FileID(bytes: seq(0xF0, 16))!
    /// Two chunks: 131072 + 5 bytes, byte i = (7i + 3) mod 256.
    static let plain: [UInt8] = (0..<(FileChunks.plainChunkBytes + 5)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    /// The ciphertext chunks of `plain` (and of the empty file) under the fixed key and header.
    static func chunks(_ plain: [UInt8]) -> [[UInt8]] {
        let stream = SecretStream(key: key, header: header)!
        let n = Int(FileChunks.chunkCount(plainSize: UInt64(plain.count)))
        return (0..<n).map { i in
            let start = i * FileChunks.plainChunkBytes
            let slice = plain[start..<min(plain.count, start + FileChunks.plainChunkBytes)]
            return stream.push(slice, final: i == n - 1, additional: fileId.bytes)
        }
    }

    static var object: [String: Any] {
        let cipher = chunks(plain)
        let empty = chunks([])
        let hash = Sodium.genericHash(plain, outputLength: 32)
        let manifest = FileManifest(fileId: fileId, name: "report.pdf", size: UInt64(plain.count), key: key, header: header, hash: hash)
        let offer = FileOffer(fileId: fileId, cipherSize: manifest.cipherSize, chunks: manifest.chunks)
        let commands: [(String, Command)] = [
            ("FILE-BEGIN", .fileBegin(fileId: fileId, size: manifest.cipherSize, chunks: 2)),
            ("FILE-STATUS", .fileStatus(fileId: fileId, have: 1, chunks: 2)),
            ("FILE-CHUNK", .fileChunk(fileId: fileId, index: 1, data: cipher[1])),
            ("FILE-GET", .fileGet(fileId: fileId, from: 0, count: 64)),
            ("FILE-DONE", .fileDone(fileId: fileId)),
        ]
        let peer: [(String, PeerCommand)] = [
            ("FILE-PULL", .filePull(fileId: fileId, origin: "hq", size: manifest.cipherSize, chunks: 2, from: 0, count: 64)),
            ("FILE-DATA", .fileData(fileId: fileId, index: 1, hash: FileChunks.chunkHash(cipher[1][...]), data: cipher[1])),
            ("FILE-HAVE", .fileHave(fileId: fileId, have: 0, known: false)),
            ("FILE-PULLED", .filePulled(fileId: fileId)),
        ]
        return [
            "description": "File chunks (SPEC.md 7.8): crypto_secretstream_xchacha20poly1305 under key, starting from header (the push state equals init_pull(header, key)), additional data = file_id, chunks of 131072 plaintext bytes, the last tagged final (3), the others message (0). plaintext[i] = (7*i + 3) mod 256, 131077 bytes.",
            "key": Hex.encode(key), "header": Hex.encode(header), "file_id": fileId.hex,
            "plaintext_size": plain.count, "plaintext_blake2b_256": Hex.encode(hash),
            "chunks": cipher.map { c in
                ["size": c.count, "blake2b_256": Hex.encode(FileChunks.chunkHash(c[...])),
                 "first_32": Hex.encode(Array(c.prefix(32))), "last_32": Hex.encode(Array(c.suffix(32)))] as [String: Any]
            },
            "chunk_1": Hex.encode(cipher[1]),
            "empty_file_chunk": Hex.encode(empty[0]),
            "cipher_size": manifest.cipherSize,
            "manifest": Hex.encode(manifest.encode()),
            "manifest_fields": ["flags": 0, "name": "report.pdf", "size": plain.count, "chunk_size": FileChunks.plainChunkBytes],
            "offer_header": Hex.encode(offer.body(sealed: [])),
            "commands": commands.map { ["name": $0.0, "hex": Hex.encode($0.1.encode())] },
            "peer_commands": peer.map { ["name": $0.0, "hex": Hex.encode($0.1.encode())] },
            "limits": [
                ["plaintext_size": 0, "chunks": 1, "cipher_size": 17, "valid": true],
                ["plaintext_size": 2_147_483_648, "chunks": 16_384, "cipher_size": FileChunks.cipherSize(plainSize: FileChunks.maxFileBytes), "valid": true],
                ["plaintext_size": 2_147_483_649, "chunks": 16_385, "cipher_size": FileChunks.cipherSize(plainSize: FileChunks.maxFileBytes + 1), "valid": false],
            ],
        ]
    }

    func testFileVectors() throws {
        if ProcessInfo.processInfo.environment["SEALPOST_WRITE_VECTORS"] == "1" {
            let data = try JSONSerialization.data(withJSONObject: Self.object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try (data + Data("\n".utf8)).write(to: Self.url)
        }
        let stored = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Self.url)) as? NSDictionary)
        let made = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONSerialization.data(withJSONObject: Self.object)) as? NSDictionary)
        XCTAssertEqual(stored, made, "file.json differs from what the code makes")

        // The chunks open with the pull side, in order, the last one final.
        let cipher = Self.chunks(Self.plain)
        let pull = SecretStream(key: Self.key, header: Self.header)!
        let first = try XCTUnwrap(pull.pull(cipher[0][...], additional: Self.fileId.bytes))
        XCTAssertEqual(first.tag, SecretStream.tagMessage)
        let second = try XCTUnwrap(pull.pull(cipher[1][...], additional: Self.fileId.bytes))
        XCTAssertEqual(second.tag, SecretStream.tagFinal)
        XCTAssertEqual(first.plain + second.plain, Self.plain)
        // Out of order, or under another file id, nothing opens.
        XCTAssertNil(SecretStream(key: Self.key, header: Self.header)!.pull(cipher[1][...], additional: Self.fileId.bytes))
        XCTAssertNil(SecretStream(key: Self.key, header: Self.header)!.pull(cipher[0][...], additional: [1]))
        // The decoders give back what was encoded.
        for entry in try XCTUnwrap(stored["commands"] as? [[String: Any]]) {
            let bytes = Hex.decode(try XCTUnwrap(entry["hex"] as? String))!
            XCTAssertEqual(try Command.decode(bytes).encode(), bytes)
        }
        for entry in try XCTUnwrap(stored["peer_commands"] as? [[String: Any]]) {
            let bytes = Hex.decode(try XCTUnwrap(entry["hex"] as? String))!
            XCTAssertEqual(try PeerCommand.decode(bytes).encode(), bytes)
        }
        let manifest = try FileManifest.decode(Hex.decode(try XCTUnwrap(stored["manifest"] as? String))!)
        XCTAssertEqual(manifest.name, "report.pdf")
        XCTAssertEqual(manifest.chunks, 2)
        XCTAssertThrowsError(try FileOffer.split(FileOffer(fileId: Self.fileId, cipherSize: FileChunks.cipherSize(plainSize: FileChunks.maxFileBytes + 1),
                                                           chunks: 16_385).body(sealed: [])))
    }
}
