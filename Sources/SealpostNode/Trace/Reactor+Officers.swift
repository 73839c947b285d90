import SealpostCore

/// `{"cmd": "officer", "action": "grant" | "revoke", "user": NAME}` on the admin socket: the
/// running node changes its officers in its own commit (protocol/SPEC.md 15.8).
extension Reactor {
    /// The `trace` member of `status`.
    func traceStatus() -> NodeStatus.Trace {
        NodeStatus.Trace(answer: config.trace.answer.rawValue, supervisors: config.trace.supervisors, timeoutS: config.trace.timeoutSeconds,
                         officers: tracing.officers.count, inProgress: tracing.tracer.pending.count,
                         answered: Int(clamping: tracing.queriesAnswered), refused: Int(clamping: tracing.queriesRefused),
                         dropped: Int(clamping: tracing.dropped), codesIssued: Int(clamping: tracing.codesIssued))
    }

    func officerAdmin(_ request: [String: Any]) -> [String: Any] {
        guard let name = request["user"] as? String, Name.isValid(name) else {
            return ["error": "give a valid user name: \(Name.rule)"]
        }
        guard users.byName[name] != nil else {
            return ["error": "no user '\(name)' on \(config.name); see sealpost-node users"]
        }
        let grant: Bool
        switch request["action"] as? String {
        case "grant": grant = true
        case "revoke": grant = false
        default: return ["error": "unknown officer action; use grant or revoke"]
        }
        let failuresBefore = counters.commitFailures
        var changed = false
        do {
            try write(ref: .zero) {
                changed = grant ? try store.grantOfficer(name, at: Clock.nowMs() / 1000, by: AuditActor.operator)
                                : try store.revokeOfficer(name)
            }
            if changed { try noteOfficerChange(user: name, granted: grant) }
        } catch {
            finishCycle()
            return ["error": "storage failure, nothing was changed; try again (\(error))"]
        }
        batch.afterCommit { [weak self] in
            guard let self else { return }
            if grant { self.tracing.officers.insert(name) } else { self.tracing.officers.remove(name) }
            if changed {
                self.logger.notice(grant ? "officer granted" : "officer revoked", metadata: ["user": "\(self.address(name))"])
            }
        }
        finishCycle()
        if counters.commitFailures != failuresBefore { return ["error": "storage failure, nothing was changed; try again"] }
        return ["address": address(name), "officer": grant, "changed": changed]
    }
}
