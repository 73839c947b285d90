import Foundation
import SealpostCore

/// The burn messages this person sent and received, kept next to the profile
/// (`PROFILE.burns`) — ids, times and receipts only, never content: which ones
/// wait to be viewed, which were viewed, the nodes' signed deletion receipts and
/// capture reports for the ones sent.
public final class BurnBook {
    public struct Sent: Codable, Equatable {
        public var to: String
        public var sent_at: UInt64
        /// 0 for a view-once file: each node keeps it for its own `burn_ttl_hours`.
        public var expires_at: UInt64
        public var images: Int
        /// Encoded `Burn.Receipt`s (hex), as they arrived; checked again when shown.
        public var receipts: [String]
        public var captures: [Capture]
    }

    public struct Capture: Codable, Equatable {
        public var by: String
        public var at: UInt64
        public var how: String
    }

    public struct Received: Codable, Equatable {
        public var from: String
        public var group: String?
        public var sent_at: UInt64
        public var expires_at: UInt64
        public var images: Int
        /// `waiting`, `viewed` (here), or `burned` (the node said it was viewed or expired).
        public var state: String
    }

    typealias File = SentAndReceived<Sent, Received>

    private let book: Book<File>
    private var file: File { book.value }
    public var path: String { book.path ?? "" }

    public init(profilePath: String) {
        book = Book(path: profilePath + ".burns", empty: File())
    }

    public func sent(_ id: String) -> Sent? { file.sent[id] }
    public func received(_ id: String) -> Received? { file.received[id] }

    /// Whether `id` names a burn message this person sent or received (such a message is never quoted).
    public func isBurn(_ id: MessageID) -> Bool { file.sent[id.hex] != nil || file.received[id.hex] != nil }

    /// A view-once file this person sent (`id` is its offer's message id).
    public func recordSentFile(_ id: MessageID, to: String, sentAt: UInt64) {
        book.update { $0.sent[id.hex] = Sent(to: to, sent_at: sentAt, expires_at: 0, images: 0, receipts: [], captures: []) }
    }

    public func recordSent(_ envelope: Envelope) {
        guard let (expiresAt, images, _) = try? Burn.split(envelope.body) else { return }
        book.update { $0.sent[envelope.id.hex] = Sent(to: envelope.to, sent_at: envelope.sentAt, expires_at: expiresAt, images: images,
                                          receipts: [], captures: []) }
    }

    public func mark(_ id: MessageID, state: String) {
        guard file.received[id.hex] != nil else { return }
        book.update { $0.received[id.hex]?.state = state }
    }

    /// Folds a received message into the book (burn notices, receipts, capture reports).
    public func note(_ m: ReceivedMessage) {
        if let burn = m.burn, file.received[m.id.hex] == nil {
            book.update { $0.received[m.id.hex] = Received(from: m.from, group: m.group, sent_at: m.sentAt, expires_at: burn.expiresAt ?? 0,
                                               images: burn.images, state: "waiting") }
        }
        if let r = m.receipt?.receipt, var s = file.sent[r.burn.hex] {
            let hex = Hex.encode(r.encode())
            if !s.receipts.contains(hex) {
                s.receipts.append(hex)
                book.update { $0.sent[r.burn.hex] = s }
            }
        }
        if let c = m.capture, var s = file.sent[c.burn.hex] {
            let capture = Capture(by: m.from, at: c.at, how: c.how)
            if !s.captures.contains(capture) {
                s.captures.append(capture)
                book.update { $0.sent[c.burn.hex] = s }
            }
        }
    }

    /// The receipts kept for a sent burn message, decoded, in the order they came.
    public func receipts(_ id: String) -> [Burn.Receipt] {
        (file.sent[id]?.receipts ?? []).compactMap { Hex.decode($0).flatMap { try? Burn.Receipt.decode($0) } }
    }

    public func save() throws { try book.save() }
}
