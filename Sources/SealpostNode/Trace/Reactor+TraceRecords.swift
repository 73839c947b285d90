import SealpostCore

/// What this node's audit log holds about a trace's subject (protocol/SPEC.md 11.7.2), and
/// the audit records trace itself writes (viewer codes, officer changes).
extension Reactor {
    /// The records about `subject`, each with its proof under a head signed now, that head, and
    /// the units the traced content originated in (for the `origin` policy).
    func traceRecords(for subject: Trace.Subject) -> (records: [Trace.Record], head: [UInt8], origins: Set<String>) {
        // Every record given must be under the head given: sign the committed log now.
        guard let head = signAuditHead(), head.position > 0 else { return ([], [], []) }
        var found: [StoredAuditRecord] = []
        var origins = Set<String>()
        do {
            switch subject {
            case .message(let id):
                for position in try store.traceIndex(origin: id) where position <= head.position {
                    // A record the index names that is gone or is not of this tree is left out: the
                    // tree shows what it lacks as a gap.
                    guard let r = try store.auditRecord(at: position), let view = TraceHopView(r.record), view.origin == id else { continue }
                    found.append(r)
                    if let unit = view.originUnit { origins.insert(unit) }
                }
                // Views of it (viewer codes this node issued for it).
                for r in try store.auditRecords(AuditFilter(kind: .viewerCode, ref: id)) where r.record.position <= head.position {
                    found.append(r)
                }
            case .code(let code):
                for r in try store.auditRecords(AuditFilter(user: code, kind: .viewerCode)) where r.record.position <= head.position {
                    found.append(r)
                    guard case .viewerCode(_, _, let message, let sender)? = try? r.record.event() else { continue }
                    if let unit = Address(sender)?.node { origins.insert(unit) }
                    // A forward viewed: the hop this node countersigned for it names the origin to trace.
                    for hop in try store.auditRecords(AuditFilter(kind: .forwardHop, ref: message), limit: 4) where hop.record.position <= head.position {
                        found.append(hop)
                        if let unit = TraceHopView(hop.record)?.originUnit { origins.insert(unit) }
                    }
                }
            }
            found.sort { $0.record.position < $1.record.position }
            let proofs = try store.auditProofs(of: found.prefix(Trace.maxRecords).map(\.record), head: head)
            let records = proofs.map {
                Trace.Record(position: $0.record.position, record: $0.record.prev + $0.record.canonicalBytes, proof: TraceProof.encode($0.path))
            }
            var w = WireWriter()
            head.encode(into: &w)
            return (Array(records), w.bytes, origins)
        } catch {
            logger.error("cannot read the audit log for a trace: \(error)")
            return ([], [], [])
        }
    }

    /// Notes the record just appended (the tip of this cycle's audit log) as one of `origin`'s
    /// forward tree, in the same transaction.
    func indexForTrace(_ origin: MessageID) throws {
        let position = auditLog.tip.position
        try write(ref: .zero) { try store.indexTrace(origin: origin, position: position) }
    }

    /// Logs an issued viewer code in the audit log (in the cycle's transaction), with the sender
    /// of the content when this node knows it (a file it holds).
    func noteViewerCode(_ record: ViewerCodeRecord) throws {
        var sender = ""
        if let file = transfers.files[record.message], !file.record.owner.isEmpty {
            sender = "\(file.record.owner)@\(file.record.origin)"
        } else if let viewed = try? store.auditRecords(AuditFilter(kind: .burnViewed, ref: record.message)).last,
                  viewed.record.fields.actor == record.viewer {
            sender = viewed.record.fields.subject
        }
        try audit(.viewerCode(code: record.code, viewer: record.viewer, message: record.message, sender: sender))
    }

    /// Logs an officer grant or revocation by the operator in the audit log.
    func noteOfficerChange(user: String, granted: Bool) throws {
        let who = address(user)
        try audit(granted ? .officerGranted(user: who, by: AuditActor.operator) : .officerRevoked(user: who, by: AuditActor.operator))
    }
}
