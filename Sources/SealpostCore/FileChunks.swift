import Sodium

/// A file's id: 16 random bytes chosen by the uploading client, like a message id.
public typealias FileID = MessageID

/// How a file is cut, encrypted and sized (protocol/SPEC.md, "Files").
///
/// The client encrypts the plaintext with `crypto_secretstream_xchacha20poly1305`
/// in chunks of `plainChunkBytes` (the last one shorter, possibly empty), each with
/// the file id as additional data, the last tagged final. Nodes store and move the
/// ciphertext chunks only: chunk `i` is `cipherChunkBytes` long except the last.
public enum FileChunks {
    /// Plaintext bytes per chunk (128 KiB).
    public static let plainChunkBytes = 128 * 1024
    /// Ciphertext bytes per full chunk (plaintext + 17).
    public static let cipherChunkBytes = plainChunkBytes + SecretStream.overheadBytes
    /// The largest file: exactly 2 GiB of plaintext.
    public static let maxFileBytes: UInt64 = 2_147_483_648
    /// Chunks of the largest file (16384).
    public static let maxChunks = UInt32(maxFileBytes / UInt64(plainChunkBytes))

    /// Chunks of a file of `plainSize` bytes: at least one (an empty file is one empty final chunk).
    public static func chunkCount(plainSize: UInt64) -> UInt32 {
        UInt32(max(1, (plainSize + UInt64(plainChunkBytes) - 1) / UInt64(plainChunkBytes)))
    }

    /// Total ciphertext bytes of a file of `plainSize` bytes.
    public static func cipherSize(plainSize: UInt64) -> UInt64 {
        plainSize + UInt64(chunkCount(plainSize: plainSize)) * UInt64(SecretStream.overheadBytes)
    }

    /// Whether a declared ciphertext size and chunk count describe a file of at most 2 GiB cut as above.
    public static func isConsistent(cipherSize: UInt64, chunks: UInt32) -> Bool {
        guard chunks >= 1, chunks <= maxChunks else { return false }
        let overhead = UInt64(chunks) * UInt64(SecretStream.overheadBytes)
        guard cipherSize >= overhead else { return false }
        let plain = cipherSize - overhead
        return plain <= maxFileBytes && chunkCount(plainSize: plain) == chunks
    }

    /// The ciphertext length of chunk `index` of a consistent file.
    public static func cipherLength(index: UInt32, chunks: UInt32, cipherSize: UInt64) -> Int {
        if index + 1 < chunks { return cipherChunkBytes }
        return Int(cipherSize - UInt64(chunks - 1) * UInt64(cipherChunkBytes))
    }

    /// Where chunk `index` starts in the ciphertext (and in a node's chunk file).
    public static func cipherOffset(index: UInt32) -> UInt64 { UInt64(index) * UInt64(cipherChunkBytes) }

    /// Where chunk `index` starts in the plaintext.
    public static func plainOffset(index: UInt32) -> UInt64 { UInt64(index) * UInt64(plainChunkBytes) }

    /// The BLAKE2b-256 of a ciphertext chunk: what nodes keep to detect a damaged chunk on disk.
    public static func chunkHash(_ cipher: ArraySlice<UInt8>) -> [UInt8] {
        Sodium.genericHash(Array(cipher), outputLength: 32)
    }

    /// The refusal for a file over 2 GiB, before anything is sent.
    public static func tooLargeMessage(size: UInt64) -> String {
        "the file is \(size) bytes; the limit is \(maxFileBytes) bytes (2 GiB)"
    }
}

/// What the recipient needs to fetch and open a file: the end-to-end content of a
/// `file` envelope (kind 14), sealed like a text.
///
/// `version:u8=1 flags:u8 file_id:octets[16] name:string size:u64 chunk_size:u32
///  key:octets[32] header:octets[24] hash:octets[32]`
/// — `size` is the plaintext size, `hash` the BLAKE2b-256 of the whole plaintext.
/// `flags` bit 0 is reserved for a view-once (burn) file; other bits are zero.
public struct FileManifest: Sendable, Equatable {
    public var flags: UInt8
    public var fileId: FileID
    public var name: String
    public var size: UInt64
    public var chunkSize: UInt32
    public var key: [UInt8]
    public var header: [UInt8]
    public var hash: [UInt8]

    public static let version: UInt8 = 1

    public init(flags: UInt8 = 0, fileId: FileID, name: String, size: UInt64, chunkSize: UInt32 = UInt32(FileChunks.plainChunkBytes),
                key: [UInt8], header: [UInt8], hash: [UInt8]) {
        self.flags = flags
        self.fileId = fileId
        self.name = name
        self.size = size
        self.chunkSize = chunkSize
        self.key = key
        self.header = header
        self.hash = hash
    }

    public var chunks: UInt32 { FileChunks.chunkCount(plainSize: size) }
    public var cipherSize: UInt64 { FileChunks.cipherSize(plainSize: size) }

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: 160 + name.utf8.count)
        w.u8(Self.version); w.u8(flags); w.octets(fileId.bytes); w.string(name.truncatedUTF8(255))
        w.u64(size); w.u32(chunkSize); w.octets(key); w.octets(header); w.octets(hash)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> FileManifest {
        var r = WireReader(bytes)
        guard try r.u8("version") == version else { throw WireError.invalid(field: "version", reason: "unsupported file manifest") }
        let flags = try r.u8("flags")
        let id = FileID(bytes: try r.octets(16, "file_id"))!
        let name = try r.string("name")
        let size = try r.u64("size")
        let chunkSize = try r.u32("chunk_size")
        let m = FileManifest(flags: flags, fileId: id, name: name, size: size, chunkSize: chunkSize,
                             key: try r.octets(SecretStream.keyBytes, "key"), header: try r.octets(SecretStream.headerBytes, "header"),
                             hash: try r.octets(32, "hash"))
        try r.expectEnd()
        guard chunkSize == UInt32(FileChunks.plainChunkBytes) else { throw WireError.invalid(field: "chunk_size", reason: "must be \(FileChunks.plainChunkBytes)") }
        guard size <= FileChunks.maxFileBytes else { throw WireError.invalid(field: "size", reason: "over 2 GiB") }
        return m
    }
}

/// The clear part of a `file` envelope's body, which the nodes read to know what to
/// pull from where: `version:u8=1 file_id:octets[16] cipher_size:u64 chunks:u32`,
/// followed by the sealed body (1:1 as in section 8, or a group body) of a `FileManifest`.
public struct FileOffer: Sendable, Equatable {
    public var fileId: FileID
    public var cipherSize: UInt64
    public var chunks: UInt32

    public static let headerBytes = 1 + 16 + 8 + 4

    public init(fileId: FileID, cipherSize: UInt64, chunks: UInt32) {
        self.fileId = fileId
        self.cipherSize = cipherSize
        self.chunks = chunks
    }

    /// The envelope body: this header, then `sealed`.
    public func body(sealed: [UInt8]) -> [UInt8] {
        var w = WireWriter(capacity: Self.headerBytes + sealed.count)
        w.u8(1); w.octets(fileId.bytes); w.u64(cipherSize); w.u32(chunks); w.octets(sealed)
        return w.bytes
    }

    /// Splits a `file` body into its clear header and its sealed part; checks the sizes.
    public static func split(_ body: [UInt8]) throws -> (offer: FileOffer, sealed: [UInt8]) {
        var r = WireReader(body)
        guard try r.u8("version") == 1 else { throw WireError.invalid(field: "version", reason: "unsupported file body") }
        let offer = FileOffer(fileId: FileID(bytes: try r.octets(16, "file_id"))!, cipherSize: try r.u64("cipher_size"),
                              chunks: try r.u32("chunks"))
        guard FileChunks.isConsistent(cipherSize: offer.cipherSize, chunks: offer.chunks) else {
            throw WireError.invalid(field: "cipher_size", reason: "not a file of at most 2 GiB in 128 KiB chunks")
        }
        return (offer, Array(body[Self.headerBytes...]))
    }
}
