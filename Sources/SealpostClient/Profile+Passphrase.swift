import Foundation
import SealpostCore
import Sodium

/// A profile whose private keys are sealed by the person's passphrase (`sealpost passphrase
/// set`): the file keeps its address, node and public facts in clear, the three secrets in
/// `sealed_keys` (a `PassphraseSeal` of their JSON), and `version` 2.
extension Profile {
    /// Whether the profile at `path` has its private keys sealed by a passphrase.
    public static func isSealed(at path: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else { return false }
        return isSealed(data)
    }

    static func isSealed(_ data: Data) -> Bool {
        ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["sealed_keys"] != nil
    }

    /// The address a profile file names, without opening its keys (for a locked daemon).
    public static func address(at path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        return object["address"] as? String
    }

    /// Loads a profile; when its keys are sealed, opens them with the passphrase that
    /// `passphrase` gives (called only then).
    /// - Throws: `ClientError.invalid("wrong passphrase …")` when it does not open them.
    public static func load(from path: String, passphrase: () throws -> String) throws -> Profile {
        guard let data = FileManager.default.contents(atPath: path), isSealed(data) else { return try load(from: path) }
        guard var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let sealedObject = object["sealed_keys"],
              let sealedData = try? JSONSerialization.data(withJSONObject: sealedObject),
              let seal = try? JSONDecoder().decode(PassphraseSeal.self, from: sealedData) else {
            throw ClientError.noProfile("the profile at \(path) is damaged or not a Sealpost profile")
        }
        guard var secrets = seal.open(passphrase: try passphrase()) else {
            throw ClientError.invalid("wrong passphrase for the profile at \(path)")
        }
        defer { wipe(&secrets) }
        guard let keys = (try? JSONSerialization.jsonObject(with: Data(secrets))) as? [String: String] else {
            throw ClientError.noProfile("the sealed keys of the profile at \(path) are damaged")
        }
        for field in ["curve_secret", "box_secret", "sign_seed"] { object[field] = keys[field] ?? "" }
        object["sealed_keys"] = nil
        object["version"] = 1
        var plain = [UInt8]((try? JSONSerialization.data(withJSONObject: object)) ?? Data())
        defer { wipe(&plain) }
        return try decode(Data(plain), path: path)
    }

    /// Writes the profile with its private keys sealed by `passphrase`, or in clear when nil.
    public func write(to path: String, passphrase: String?) throws {
        guard let passphrase else { return try write(to: path) }
        var curveSecret = curve.secretKey.copyBytes(), boxSecret = box.secretKey.copyBytes(), seed = sign.seed()
        var secrets = [UInt8]((try? JSONSerialization.data(withJSONObject: [
            "curve_secret": Sodium.base64(curveSecret), "box_secret": Sodium.base64(boxSecret), "sign_seed": Sodium.base64(seed),
        ], options: [.sortedKeys])) ?? Data())
        defer { wipe(&curveSecret); wipe(&boxSecret); wipe(&seed); wipe(&secrets) }
        let seal = try PassphraseSeal.seal(secrets, passphrase: passphrase)
        let file = File(version: 2, address: address.description, display: display, endpoint: endpoint,
                        node_curve_key: Sodium.base64(nodeCurveKey), node_sign_key: Sodium.base64(nodeSignKey),
                        curve_secret: "", box_secret: "", sign_seed: "")
        guard var object = (try JSONSerialization.jsonObject(with: try JSONEncoder().encode(file))) as? [String: Any] else {
            throw ClientError.io("cannot write \(path)")
        }
        object["sealed_keys"] = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(seal))
        try PrivateFile.write(try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), to: path)
    }
}
