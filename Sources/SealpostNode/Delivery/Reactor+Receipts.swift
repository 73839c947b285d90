import SealpostCore

/// Delivery receipts (protocol/SPEC.md 7.10): the glue between `DeliveryReceipts`
/// and the cycle.
extension Reactor {
    /// Stores or journals the `delivered` receipts for what this cycle put in mailboxes,
    /// inside the cycle's transaction (before its pushes are taken and it commits).
    func sendDeliveryReceipts() {
        guard !deliveryReceipts.isEmpty else { return }
        for receipt in deliveryReceipts.take(nowMs: Clock.nowMs()) {
            guard let to = Address(receipt.to) else { continue }
            do {
                if to.node == config.name {
                    try deliverLocally(receipt, to: to.local)
                } else {
                    try journalOut(receipt, dest: to.node)
                }
            } catch {
                // The cycle's transaction fails with it: the messages it is about are not stored either.
                logger.warning("cannot store a delivered receipt: \(error)")
            }
        }
    }

    /// A `delivered` receipt from another node: kept only for ids its addressee sent from here
    /// to that node (or to a group).
    func deliverRelayedReceipt(_ envelope: Envelope, to recipient: String) throws {
        let sender = address(recipient), claimedBy = Address(envelope.from)?.node
        // Sent by its addressee, to the node the receipt comes from (or to a group: members are anywhere).
        let sentThere: (MessageID) throws -> Bool = { id in
            guard let dest = try self.store.sentDest(sender: sender, id: id) else { return false }
            return dest.isEmpty || dest == "*" || dest == claimedBy
        }
        guard let checked = try deliveryReceipts.checkRelayed(envelope, sentBy: sentThere) else {
            logger.warning("relayed delivered receipt dropped: it names no message its addressee sent",
                           metadata: ["from": "\(envelope.from)", "to": "\(envelope.to)"])
            return
        }
        if checked.body != envelope.body {
            logger.warning("relayed delivered receipt trimmed: it named messages its addressee did not send",
                           metadata: ["from": "\(envelope.from)", "to": "\(envelope.to)"])
        }
        guard users.byName[recipient] != nil else { return }
        counters.stored()
        try deliverLocally(checked, to: recipient, relay: true)
    }
}
