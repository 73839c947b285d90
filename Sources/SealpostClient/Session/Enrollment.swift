import Foundation
import SealpostCore
import Sodium
import ZeroMQ

/// Joining a node with an invite code.
public enum Enrollment {
    /// Makes the person's keys here, enrols them with the node the code names and
    /// writes the profile (0600). Keys are made on this device and never sent:
    /// only public keys go to the node.
    ///
    /// An interrupted join can be run again with the same code: the keys of the
    /// first try are kept in `PROFILE.pending` until the node confirms.
    /// - Throws: `ClientError` with a message for the person.
    public static func join(code text: String, display: String?, profilePath: String, timeoutMs: Int = 10_000) throws -> Profile {
        let code: InviteCode
        do { code = try InviteCode(text: text) } catch {
            throw ClientError.invalid("\(error)")
        }
        if FileManager.default.fileExists(atPath: profilePath) {
            throw ClientError.invalid("a profile already exists at \(profilePath); pass --profile FILE to join as someone else")
        }
        if code.expiresAt <= Clock.nowMs() / 1000 {
            throw ClientError.refused(code: ErrorCode.inviteExpired.rawValue, reason: "this invite code has expired; ask your operator for a new one")
        }
        guard let address = Address(local: code.user, node: code.node) else { throw ClientError.invalid("the invite names an invalid address") }
        if let display, display.utf8.count > 64 { throw ClientError.invalid("the display name is longer than 64 bytes") }

        let pendingPath = profilePath + ".pending"
        var profile: Profile
        if let pending = try? Profile.load(from: pendingPath), pending.address == address, pending.nodeCurveKey == code.nodeCurveKey {
            profile = pending
        } else {
            profile = Profile(address: address, display: display ?? code.user, endpoint: code.endpoint,
                              nodeCurveKey: code.nodeCurveKey, nodeSignKey: code.nodeSignKey,
                              curve: .generate(), box: .generate(), sign: .generate())
            try profile.write(to: pendingPath)
        }

        var secret = code.secret
        guard let inviteKeys = BoxKeyPair(secretKey: &secret) else { throw ClientError.invalid("the invite code is damaged") }
        let connection = try Connection(endpoint: code.endpoint, serverKey: code.nodeCurveKey, curve: inviteKeys,
                                        refusal: "node '\(code.node)' at \(code.endpoint) refused this invite code: it was revoked, "
                                            + "or it expired or was used; ask your operator for a new one")
        defer { connection.close() }
        try connection.send(.enroll(display: profile.display, curveKey: profile.curve.publicKey,
                                    boxKey: profile.box.publicKey, signKey: profile.sign.publicKey))
        let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
        while Clock.monotonicNs() < deadline {
            let left = Int((deadline - Clock.monotonicNs()) / 1_000_000)
            guard let reply = try connection.receive(timeoutMs: left) else { break }
            switch reply {
            case .enrolled(let enrolled, let nodeSignKey):
                guard enrolled == address.description, nodeSignKey == code.nodeSignKey else {
                    throw ClientError.protocolError("the node answered with a different identity; not joining")
                }
                try profile.write(to: profilePath)
                try? FileManager.default.removeItem(atPath: pendingPath)
                return profile
            case .error(let code, _, let reason):
                try? FileManager.default.removeItem(atPath: pendingPath)
                throw ClientError.refused(code: code, reason: reason)
            default:
                continue
            }
        }
        throw ClientError.unreachable("cannot reach node '\(code.node)' at \(code.endpoint): no answer within \(timeoutMs / 1000) s (is the node running, and is the invite still valid?)")
    }
}
