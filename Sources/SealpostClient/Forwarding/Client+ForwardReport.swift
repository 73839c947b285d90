import SealpostCore

/// A forward report as a security officer sees it (protocol/SPEC.md 7.9.9), after checking the
/// reporting node's signature with the key the officer's own node holds for it.
public struct ReceivedForwardReport: Sendable, Equatable {
    public var report: ForwardReport
    /// Signed by `report.node` with the key our own node holds for it.
    public var verified: Bool
    public var reason: String?
}

extension Client {
    /// A forward report delivered to this officer, checked with the reporting node's key.
    func check(forwardReport report: ForwardReport) -> ReceivedForwardReport {
        let (ok, reason) = checkSigned(by: report.node) { report.verify(nodeKey: $0) }
        return ReceivedForwardReport(report: report, verified: ok, reason: reason)
    }

    /// The sentence an officer reads: "forward refused at traffic: wu@traffic tried to forward
    /// li@hq's message ID to teachers@traffic (label_group_label)".
    static func text(of checked: ReceivedForwardReport) -> String {
        let r = checked.report
        let signed = checked.verified ? "signed by \(r.node)" : "NOT VERIFIED: \(checked.reason ?? "")"
        let more = r.suppressed == 0 ? "" : "; \(r.suppressed) more refused forward\(r.suppressed == 1 ? "" : "s") by \(r.forwarder) not reported since the last report"
        return "forward refused at \(r.node): \(r.forwarder) tried to forward \(r.originator)'s message \(r.origin.hex) to \(r.to) (\(r.reason))\(more) (\(signed))"
    }
}
