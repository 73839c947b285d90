import Foundation
import SealpostCore

/// A viewer code the viewer's node issued for one view, and the watermark line that carries it.
public struct ViewerMark: Sendable, Equatable {
    public var code: String
    public var viewer: String
    public var at: UInt64
    public var line: String
}

extension Client {
    /// Asks this person's node for a viewer code for a view of `message` (a burn message, a file
    /// or an image being opened now). The node stores and logs the code before it answers, so the
    /// code resolves there (`sealpost trace --code`) whatever becomes of this device.
    /// - Parameter burn: whether the content is burn-after-reading (the line says so).
    /// - Throws: `ClientError.refused` (429 when asked too often), `.unreachable`.
    public func viewerMark(for message: MessageID, burn: Bool) throws -> ViewerMark {
        let requestId = nextRequest()
        try connection.send(.trace(requestId: requestId, op: .mark, subject: .message(message)))
        let reply = try awaitReply(timeoutMs: timeoutMs) { command in
            switch command {
            case .traceResult(let id, _, _, _): return id == requestId
            case .error(_, let ref, _): return ref == .zero
            default: return false
            }
        }
        switch reply {
        case .traceResult(_, _, let code, _)?:
            guard let parsed = ViewerCode(code), parsed.node == profile.address.node else {
                throw ClientError.protocolError("the node answered a viewer code that is not its own: '\(code)'")
            }
            let at = Clock.nowMs()
            let viewer = profile.address.description
            return ViewerMark(code: code, viewer: viewer, at: at, line: Watermark.line(viewer: viewer, at: at, code: code, burn: burn))
        case .error(let code, _, let reason)?:
            throw ClientError.refused(code: code, reason: reason)
        default:
            throw unreachable
        }
    }

    /// Asks the federation, through this person's node, about `subject` (officers only): every
    /// node's state and signed answer, for `TraceReport` to check and rebuild.
    /// - Parameter waitMs: how long to wait for the node's result (its trace ends at its
    ///   `trace.timeout_seconds`).
    /// - Throws: `ClientError.refused` (401 for someone who is not an officer, 429), `.unreachable`.
    public func trace(_ subject: Trace.Subject, waitMs: Int = 330_000) throws -> [Trace.NodeResult] {
        let requestId = nextRequest()
        let op: Trace.Operation
        if case .code = subject { op = .code } else { op = .message }
        try connection.send(.trace(requestId: requestId, op: op, subject: subject))
        let reply = try awaitReply(timeoutMs: waitMs) { command in
            switch command {
            case .traceResult(let id, _, _, _): return id == requestId
            case .error(_, let ref, _): return ref == .zero
            default: return false
            }
        }
        switch reply {
        case .traceResult(_, _, _, let nodes)?:
            return nodes
        case .error(let code, _, let reason)?:
            throw ClientError.refused(code: code, reason: reason)
        default:
            throw unreachable
        }
    }
}
