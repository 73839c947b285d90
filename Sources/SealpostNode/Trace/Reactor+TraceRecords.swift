import SealpostCore

/// What this node's audit log holds about a trace's subject (protocol/SPEC.md 11.7.2).
extension Reactor {
    /// The records about `subject`, each with its proof, the signed head they lead to, and the
    /// units the traced message originated in (for the `origin` policy).
    func traceRecords(for subject: Trace.Subject) -> (records: [Trace.Record], head: [UInt8], origins: Set<String>) {
        ([], [], [])
    }

    /// Logs an issued viewer code in the audit log (in the cycle's transaction).
    func noteViewerCode(_ record: ViewerCodeRecord) throws {}
}

extension Reactor {
    /// Logs an officer grant or revocation by the operator in the audit log.
    func noteOfficerChange(user: String, granted: Bool) throws {}
}
