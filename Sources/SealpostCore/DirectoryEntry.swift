import Sodium

/// A user's public identity, signed by the user's home node, so that no other
/// node or relay can substitute a key (protocol/SPEC.md, "Directory entry").
///
/// Signed bytes: `"sealpost-dir-v1" || address:string || display:string ||
/// box_key:octets[32] || sign_key:octets[32] || updated_at:u64`; the encoded entry
/// is those fields (without the context string) followed by `signature:octets[64]`.
///
/// With a clearance (section 9.7): `clearance:u8` follows the signature, and the signature is over
/// `"sealpost-dir-v2" || the same fields || clearance:u8`, so no relay can add, change or strip it.
public struct DirectoryEntry: Sendable, Equatable {
    public var address: String
    public var display: String
    public var boxKey: [UInt8]
    public var signKey: [UInt8]
    public var updatedAt: UInt64
    /// The highest label (rank) this person may receive, set by their node's operator; nil: never
    /// set, which every check takes as the federation's default label.
    public var clearance: UInt8?
    public var signature: [UInt8]

    static let context = Array("sealpost-dir-v1".utf8)
    static let clearedContext = Array("sealpost-dir-v2".utf8)

    public init(address: String, display: String, boxKey: [UInt8], signKey: [UInt8], updatedAt: UInt64, clearance: UInt8? = nil,
                signature: [UInt8] = []) {
        self.address = address
        self.display = display
        self.boxKey = boxKey
        self.signKey = signKey
        self.updatedAt = updatedAt
        self.clearance = clearance
        self.signature = signature
    }

    private func fields(into w: inout WireWriter) {
        w.string(address)
        w.string(display)
        w.octets(boxKey)
        w.octets(signKey)
        w.u64(updatedAt)
    }

    public var signedBytes: [UInt8] {
        var w = WireWriter()
        w.octets(clearance == nil ? Self.context : Self.clearedContext)
        fields(into: &w)
        if let clearance { w.u8(clearance) }
        return w.bytes
    }

    public mutating func sign(with node: SignKeyPair) {
        signature = node.sign(signedBytes)
    }

    public func verify(nodeKey: [UInt8]) -> Bool {
        SignKeyPair.verify(signature: signature, message: signedBytes, publicKey: nodeKey)
    }

    /// A short form of the user's two public keys for people to compare (protocol/SPEC.md,
    /// section 9.5): the first 10 bytes of BLAKE2b-256 over `"sealpost-fp-v1" || box_key ||
    /// sign_key`, as 20 lowercase hex digits in groups of four ("1a2b 3c4d 5e6f 7a8b 9c0d").
    public var fingerprint: String {
        Self.fingerprint(boxKey: boxKey, signKey: signKey)
    }

    public static func fingerprint(boxKey: [UInt8], signKey: [UInt8]) -> String {
        let hash = Sodium.genericHash(Array("sealpost-fp-v1".utf8) + boxKey + signKey, outputLength: 32)
        let hex = Array(Hex.encode(Array(hash.prefix(10))))
        return stride(from: 0, to: hex.count, by: 4).map { String(hex[$0..<min($0 + 4, hex.count)]) }.joined(separator: " ")
    }

    public func encode() -> [UInt8] {
        var w = WireWriter()
        fields(into: &w)
        w.octets(signature)
        if let clearance { w.u8(clearance) }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> DirectoryEntry {
        var r = WireReader(bytes)
        var e = DirectoryEntry(address: try r.string("address"), display: try r.string("display"),
                               boxKey: try r.octets(32, "box_key"), signKey: try r.octets(32, "sign_key"),
                               updatedAt: try r.u64("updated_at"), signature: try r.octets(64, "signature"))
        if r.remaining > 0 {
            let clearance = try r.u8("clearance")
            guard Int(clearance) < LabelSet.maxLabels else { throw WireError.invalid(field: "clearance", reason: "rank 16 or more") }
            e.clearance = clearance
        }
        try r.expectEnd()
        guard Address(e.address) != nil else { throw WireError.invalid(field: "address", reason: "not an address") }
        return e
    }
}
