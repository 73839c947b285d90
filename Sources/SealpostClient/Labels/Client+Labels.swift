import Foundation
import SealpostCore

/// A refusal notice as the sender sees it, after checking its node signature.
public struct ReceivedRefusal: Sendable, Equatable {
    public var notice: LabelNotice
    /// Signed by `notice.node` with the key our own node holds for it.
    public var verified: Bool
    public var reason: String?
}

/// Labels on the client (protocol/SPEC.md 7.11): the node's rules (LABELS), the label of what
/// this person sends, the check of every recipient's clearance before sealing, and the checks
/// of what arrives (the binding is checked by `Sealed`/`GroupSealed`; here the person's own
/// clearance and the readable-until time).
extension Client {
    /// The node's label rules and this person's clearance, asked once per connection (and at
    /// `attach`). While the node cannot be reached and has not answered yet, the standard rules
    /// (default 内部, this person cleared to it) stand in, so a message can wait in an outbox; the
    /// node checks it again when it is sent.
    public func labelInfo() throws -> LabelInfo {
        if let cachedLabelInfo { return cachedLabelInfo }
        // What the node said last time (kept with the profile): asked again, but not waited for long.
        let kept: LabelInfo? = labelCachePath.flatMap { FileManager.default.contents(atPath: $0) }.flatMap {
            var r = WireReader([UInt8]($0))
            return try? LabelInfo.decode(from: &r)
        }
        try connection.send(.labels(nil))
        let reply = try awaitReply(timeoutMs: kept == nil ? timeoutMs : min(timeoutMs, 1_500)) { command in
            if case .labels(let info) = command { return info != nil }
            return false
        }
        guard case .labels(let info?)? = reply else { return kept ?? Self.provisionalLabels }
        keep(info)
        return info
    }

    /// Takes the node's answer, and keeps it with the profile.
    func keep(_ info: LabelInfo) {
        cachedLabelInfo = info
        guard let labelCachePath else { return }
        var w = WireWriter()
        info.encode(into: &w)
        FileManager.default.createFile(atPath: labelCachePath, contents: Data(w.bytes), attributes: [.posixPermissions: 0o600])
    }

    static let provisionalLabels = LabelInfo(set: .standard, defaultRank: 1, ceiling: 3, accredited: 0, clearance: 1)

    /// Asks for the rules without waiting (the answer is kept when it comes).
    func requestLabelInfo() throws {
        if cachedLabelInfo == nil { try connection.send(.labels(nil)) }
    }

    /// The rank of a label named by its name or English name (`敏感`, `sensitive`).
    /// - Throws: `ClientError.invalid` naming the labels there are.
    public func labelRank(_ name: String) throws -> UInt8 {
        let set = try labelInfo().set
        guard let rank = set.rank(of: name) else {
            throw ClientError.invalid("'\(name)' is not a label; the labels are: \(set.labels.map(\.display).joined(separator: ", "))")
        }
        return rank
    }

    /// The label what is sent next carries, as people read it (after a send: what it carried).
    public var sendLabelDisplay: String? {
        guard let info = cachedLabelInfo else { return nil }
        return info.set.display(sendLabel.flatMap { info.set.rank(of: $0) } ?? info.defaultRank)
    }

    /// `敏感 sensitive` for a rank.
    public func labelDisplay(_ rank: UInt8) -> String {
        (cachedLabelInfo?.set ?? .standard).display(rank)
    }

    /// The label what is sealed next carries (`sendLabel` or the node's default, with
    /// `readableUntil`), after the sender's check (SPEC 7.11.5, step 1): the node carries it and
    /// every recipient — `to`, or each of a group's other `members` — is cleared for it.
    /// - Throws: `ClientError.refused` with code 451 (452 for a state secret the node is not
    ///   accredited for) naming who is not cleared; nothing has been sent.
    /// - Parameter carrying: a forward's: the label of the message forwarded, which it keeps
    ///   (an unlabelled one: the default), whatever `sendLabel` says.
    public func outgoingLabel(to: Address, members: [String]?, carrying: EnvelopeLabel? = nil) throws -> EnvelopeLabel {
        let info = try labelInfo()
        var label: EnvelopeLabel
        let now = Clock.nowMs()
        if let carrying {
            label = carrying
        } else {
            let rank = try sendLabel.map { try labelRank($0) } ?? info.defaultRank
            if readableUntil != 0 && readableUntil <= now {
                throw ClientError.invalid("the readable-until time \(Clock.rfc3339(ms: readableUntil)) is in the past")
            }
            label = EnvelopeLabel(rank: rank, readableUntil: readableUntil)
        }
        let rank = label.rank
        lastSentLabel = label
        guard checksLabels else { return label }
        // 保密期限 (SPEC 7.11.9): the label's readable period on this node is the default and the limit
        // (the envelope is stamped at or after `now`). A forward keeps the time of what it forwards,
        // or gets the period when that was later or had none.
        if let limit = info.expiry.limitMs(rank) {
            let latest = now + limit
            if label.readableUntil == 0 || (carrying != nil && label.readableUntil > latest) {
                label.readableUntil = latest
            } else if label.readableUntil > latest {
                throw ClientError.invalid("\(info.set.display(rank)) messages are readable for at most \(LabelExpiry.format(seconds: limit / 1000)) "
                    + "on \(profile.address.node) (保密期限): --until \(Clock.rfc3339(ms: label.readableUntil)) is later than \(Clock.rfc3339(ms: latest))")
            }
            lastSentLabel = label
        }
        var policy = info.policy
        policy.node = profile.address.node
        if let refusal = policy.carry(rank) {
            throw ClientError.refused(code: refusal.reason.errorCode, reason: refusal.text)
        }
        let me = profile.address.description
        let recipients = members.map { $0.filter { $0 != me } } ?? [to.description]
        var cleared: [(address: String, clearance: UInt8)] = []
        for r in recipients {
            guard let a = Address(r) else { continue }
            cleared.append((r, try lookup(a).clearance ?? info.defaultRank))
        }
        if let refusal = policy.deliver(rank, to: cleared) {
            throw ClientError.refused(code: refusal.reason.errorCode, reason: refusal.text)
        }
        return label
    }

    /// What a received envelope's label means for this person: its display, and whether the
    /// content is past its readable-until time or above this person's clearance (then it is not shown).
    func checkReceivedLabel(_ envelope: Envelope, into message: inout ReceivedMessage) throws -> Bool {
        // A node empties a sealed envelope at its readable-until time, or earlier by its own 保密期限.
        let emptied = envelope.body.isEmpty && (envelope.knownKind?.isSealed ?? false) && envelope.knownKind != .seen
        guard let label = envelope.label else {
            if envelope.knownKind?.isSealed ?? false, let info = cachedLabelInfo { message.label = info.set.display(info.defaultRank) }
            if emptied {
                message.kind = .expired
                message.text = "\(message.label ?? "") message: your node deleted its content at its readable-until time (保密期限)"
                return false
            }
            return true
        }
        message.label = labelDisplay(label.rank)
        message.labelRank = label.rank
        if label.readableUntil != 0 { message.readableUntil = label.readableUntil }
        if (label.readableUntil != 0 && label.readableUntil <= Clock.nowMs()) || emptied {
            message.kind = .expired
            message.text = label.readableUntil != 0 && label.readableUntil <= Clock.nowMs()
                ? "\(message.label ?? "") message, readable until \(Clock.rfc3339(ms: label.readableUntil)): its content was deleted"
                : "\(message.label ?? "") message: your node deleted its content at its readable-until time (保密期限)"
            return false
        }
        if checksLabels, let info = try? labelInfo(), label.rank > info.clearance {
            throw ClientError.protocolError("a \(labelDisplay(label.rank)) message arrived, above your clearance (\(labelDisplay(info.clearance))): not shown")
        }
        return true
    }

    /// A refusal notice for something this person sent, checked with the refusing node's key.
    func check(refusal notice: LabelNotice) -> ReceivedRefusal {
        let (ok, reason) = checkSigned(by: notice.node) { notice.verify(nodeKey: $0) }
        return ReceivedRefusal(notice: notice, verified: ok, reason: reason)
    }

    /// Asks the group's home node to set the group's label (admins only; raising it is refused
    /// while a member is not cleared for the new label).
    public func setGroupLabel(group: Address, label: String) throws {
        try sendMeta(to: group, kind: .groupOp, body: Group.opBody(.label, members: [], label: try labelRank(label)))
    }
}
