import Sodium

/// A home node's signature over its whole directory at one version: the version
/// and the set of its entries (protocol/SPEC.md, "Applying a snapshot"). Each entry
/// is signed on its own too; this signature is what makes a removal provable: a
/// node on the way can pass a DIR-SNAPSHOT on, but cannot raise its version, leave
/// entries out or put old ones back.
///
/// Signed bytes: `"sealpost directory v1" || home:string || version:u64 ||
/// entries_hash:octets[32]`, where `entries_hash` is BLAKE2b-256 (unkeyed) of
/// `count:u32 || count × entry:longstr`, the encoded entries sorted bytewise.
public struct DirectoryHead: Sendable, Equatable {
    public var home: String
    public var version: UInt64
    public var entriesHash: [UInt8]

    static let context = Array("sealpost directory v1".utf8)
    /// The signature field of a snapshot that has nothing signed to give (version 0).
    public static let noSignature = [UInt8](repeating: 0, count: 64)

    public init(home: String, version: UInt64, entries: [[UInt8]]) {
        self.home = home
        self.version = version
        self.entriesHash = Self.entriesHash(entries)
    }

    /// BLAKE2b-256 of the entries as a set: sorted bytewise, so the order they travel in does not matter.
    public static func entriesHash(_ entries: [[UInt8]]) -> [UInt8] {
        var w = WireWriter(capacity: 4 + entries.reduce(0) { $0 + 4 + $1.count })
        w.u32(UInt32(entries.count))
        for e in entries.sorted(by: { $0.lexicographicallyPrecedes($1) }) { w.longstr(e) }
        return Sodium.genericHash(w.bytes, outputLength: 32)
    }

    public var signedBytes: [UInt8] {
        var w = WireWriter()
        w.octets(Self.context)
        w.string(home)
        w.u64(version)
        w.octets(entriesHash)
        return w.bytes
    }

    /// The home node's signature (only the home node signs its own head; relays pass it on).
    public func sign(with node: SignKeyPair) -> [UInt8] {
        node.sign(signedBytes)
    }

    public func verify(signature: [UInt8], nodeKey: [UInt8]) -> Bool {
        SignKeyPair.verify(signature: signature, message: signedBytes, publicKey: nodeKey)
    }
}
