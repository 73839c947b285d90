import SealpostCore
import Sodium

extension Client {
    /// Checks and seals a text for a group without sending it (for callers that keep their
    /// own outbox and resend until STORED, such as the web daemon).
    /// - Parameters:
    ///   - group: the group's address.
    ///   - members: the members as the group's home node last announced them.
    ///   - text: at most 64 KiB of UTF-8, not only spaces.
    /// - Returns: the envelope to `submit`.
    /// - Throws: `ClientError.invalid` for an empty or too long text; lookup errors for a member.
    public func prepareGroupText(group: Address, members: [String], text: String,
                                 id: MessageID = MessageID(bytes: Sodium.randomBytes(16))!) throws -> Envelope {
        let bytes = Array(text.utf8)
        guard !text.trimmingSpaces.isEmpty else { throw ClientError.invalid("the message is empty") }
        guard bytes.count <= Sealed.maxTextBytes else {
            throw ClientError.invalid("the message is \(bytes.count) bytes; the limit is \(Sealed.maxTextBytes) bytes (64 KiB)")
        }
        let label = try outgoingLabel(to: group, members: members)
        let sentAt = Clock.nowMs()
        let kind = EnvelopeKind.groupMessage.rawValue
        let (content, flags) = withOrigin(kind: .groupMessage, id: id, to: group, sentAt: sentAt, label: label, content: bytes)
        let body = try seal(kind: kind, id: id, to: group, sentAt: sentAt, label: label, content: content, members: members)
        return Envelope(id: id, from: "", to: group.description, kind: kind, flags: flags, sentAt: sentAt, label: label, body: body)
    }
}
