import Logging
import SealpostCore

/// Forward reports (protocol/SPEC.md 7.9.9): a node that refuses a forward (the forwarder's
/// node, or a group's home that will not fan it out) tells the unit the message came from. It
/// signs a `forward_report` and sends it as an envelope from `node@THIS` to `node@UNIT`, through
/// the journal like any envelope; the origin's node checks the signature, writes a
/// `forward_report_received` record and puts the report in each of its security officers'
/// mailboxes.
extension Reactor {
    /// Reports a refused forward to the origin's unit, in the refusal's own transaction. At most
    /// `forwarding.report_burst` at once and `reports_per_hour` per forwarder: past that the
    /// refusal is only audited here, and the next report about the forwarder counts it.
    func reportRefusedForward(_ envelope: Envelope, header: ForwardHeader, reason: String) throws {
        let unit = header.origin.unit
        guard Name.isValid(unit), Address(envelope.from) != nil else { return }
        let now = Clock.nowMs()
        let before = forwarding.reportLimiter
        let verdict = forwarding.reportLimiter.take(envelope.from, now: now, burst: config.forwarding.reportBurst,
                                                    perHour: config.forwarding.reportsPerHour)
        batch.onRollback { [weak self] in self?.forwarding.reportLimiter = before }
        guard case .report(let suppressed) = verdict else {
            batch.afterCommit { [weak self] in self?.forwarding.reportsSuppressed += 1 }
            logger.info("forward report withheld: over the rate for this forwarder", metadata: ["forwarder": "\(envelope.from)"])
            return
        }
        var report = ForwardReport(ref: envelope.id, origin: header.origin.id, originator: header.origin.sender,
                                   forwarder: envelope.from, to: envelope.to, reason: reason,
                                   label: labels.rank(of: envelope) ?? labels.policy.defaultRank,
                                   hops: UInt8(clamping: header.hops.count), suppressed: suppressed, refusedAt: now, node: config.name)
        report.sign(with: keys.sign)
        let out = Envelope(id: report.messageID, from: address(Self.nodeSender), to: "\(Self.nodeSender)@\(unit)",
                           kind: .forwardReport, sentAt: now, body: report.encode())
        if unit == config.name {
            try receiveForwardReport(out)
        } else if directory.nodeKeys[unit] != nil || peering.routeTable.routes[unit] != nil {
            try journalOut(out, dest: unit)
            batch.afterCommit { [weak self] in self?.forwarding.reportsSent += 1 }
        } else {
            logger.warning("forward report not sent: the origin's unit is not in this federation", metadata: ["unit": "\(unit)"])
        }
    }

    /// A forward report for this unit (made here, or relayed to `node@THIS`): checked, audited,
    /// and handed to every security officer of this node. A report that does not check, or that
    /// is not about this unit's message, is dropped and counted; a repeat is dropped.
    func receiveForwardReport(_ envelope: Envelope) throws {
        guard let report = try? ForwardReport.decode(envelope.body), report.unit == config.name,
              envelope.to == address(Self.nodeSender), envelope.from == "\(Self.nodeSender)@\(report.node)",
              envelope.id == report.messageID,
              let key = report.node == config.name ? keys.sign.publicKey : directory.nodeKeys[report.node], report.verify(nodeKey: key) else {
            batch.afterCommit { [weak self] in self?.forwarding.reportsDropped += 1 }
            logger.warning("forward report dropped: it does not verify, or is not about this unit's message",
                           metadata: ["from": "\(envelope.from)", "to": "\(envelope.to)"])
            return
        }
        var isNew = false
        try write(ref: envelope.id) { isNew = try store.markReceived(sender: envelope.from, id: envelope.id, at: Clock.nowMs()) }
        guard isNew else {
            counters.duplicates += 1
            return
        }
        if report.node != config.name {
            // Another node's reports: at most ten times the per-forwarder rate from one node, so a
            // peer that signs reports without end cannot fill the officers' mailboxes.
            let before = forwarding.receivedLimiter, factor = ForwardingState.receivedRateFactor
            let verdict = forwarding.receivedLimiter.take(report.node, now: Clock.nowMs(), burst: config.forwarding.reportBurst * factor,
                                                          perHour: config.forwarding.reportsPerHour * factor)
            batch.onRollback { [weak self] in self?.forwarding.receivedLimiter = before }
            guard case .report = verdict else {
                batch.afterCommit { [weak self] in self?.forwarding.reportsDropped += 1 }
                logger.warning("forward report dropped: over the rate of reports from its node", metadata: ["node": "\(report.node)"])
                return
            }
        }
        try audit(.forwardReportReceived(id: report.ref, node: report.node, forwarder: report.forwarder, report: envelope.body),
                  ref: report.ref)
        let officers = tracing.officers.sorted()
        for officer in officers {
            var copy = envelope
            copy.to = address(officer)
            try deliverLocally(copy, to: officer)
        }
        batch.afterCommit { [weak self] in
            self?.forwarding.reportsReceived += 1
            if officers.isEmpty { self?.forwarding.reportsUnread += 1 }
        }
        logger.notice("forward refused elsewhere reported", metadata: [
            "node": "\(report.node)", "forwarder": "\(report.forwarder)", "origin": "\(report.origin.hex)",
            "reason": "\(report.reason)", "officers": "\(officers.count)"])
    }
}
