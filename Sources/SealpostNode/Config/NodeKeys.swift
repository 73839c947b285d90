import Foundation
import Sodium
import SealpostCore
import ZeroMQ

/// The node's long-term keys: X25519 for CurveZMQ, Ed25519 for signing directory
/// entries (and later receipts). Kept in `node.keys`, mode 0600.
public struct NodeKeys: Sendable {
    public let curve: BoxKeyPair
    public let sign: SignKeyPair

    /// The CurveZMQ public key as Z85 text, as operators exchange it.
    public var publicKeyText: String { Z85.encode(curve.publicKey) }

    public static func generate() -> NodeKeys {
        NodeKeys(curve: .generate(), sign: .generate())
    }

    init(curve: BoxKeyPair, sign: SignKeyPair) {
        self.curve = curve
        self.sign = sign
    }

    /// File form: two lines, `curve_secret <base64url>` and `sign_seed <base64url>`.
    func fileText() -> String {
        var curveSecret = curve.secretKey.copyBytes()
        var seed = sign.seed()
        defer { wipe(&curveSecret); wipe(&seed) }
        return "curve_secret \(Sodium.base64(curveSecret))\nsign_seed \(Sodium.base64(seed))\n"
    }

    static func parse(_ text: String, file: String) throws -> NodeKeys {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        guard var curveSecret = values["curve_secret"].flatMap(Sodium.fromBase64),
              var seed = values["sign_seed"].flatMap(Sodium.fromBase64),
              let curve = BoxKeyPair(secretKey: &curveSecret),
              let sign = SignKeyPair(seed: &seed) else {
            throw NodeError.dataDir("\(file) is damaged: it must hold curve_secret and sign_seed")
        }
        return NodeKeys(curve: curve, sign: sign)
    }
}
