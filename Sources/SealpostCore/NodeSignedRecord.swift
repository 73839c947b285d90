import Sodium

/// A record its node signs as a whole (a refusal notice, a forward report): the bytes
/// `unsignedBytes`, then a 64-byte Ed25519 signature over `context ‖ unsignedBytes`.
public protocol NodeSignedRecord {
    /// The domain separation prefix of the signature (SPEC names it with the record).
    static var context: [UInt8] { get }
    /// The record without its signature, as it goes on the wire.
    var unsignedBytes: [UInt8] { get }
    var signature: [UInt8] { get set }
}

extension NodeSignedRecord {
    /// What the node signs.
    public var signedBytes: [UInt8] { Self.context + unsignedBytes }

    public mutating func sign(with key: SignKeyPair) { signature = key.sign(signedBytes) }

    /// Whether the signature is the node's whose key is `nodeKey`.
    public func verify(nodeKey: [UInt8]) -> Bool {
        signature.count == 64 && SignKeyPair.verify(signature: signature, message: signedBytes, publicKey: nodeKey)
    }

    /// The wire form: the record, then its signature.
    public func encode() -> [UInt8] { unsignedBytes + signature }
}
