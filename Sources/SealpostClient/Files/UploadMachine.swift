import SealpostCore

/// The client side of one upload (SPEC 7.8.2): FILE-BEGIN until the node says how much it
/// holds, then chunks within a credit window, moved on by FILE-STATUS; a node that lost
/// chunks (it restarted) refuses what follows as out of order or falls silent, and the
/// upload begins again where the node's durable copy ends, a few times before it gives up.
///
/// No I/O and no clock: `Client.sendFile` reads, encrypts and sends what the actions say,
/// and feeds in what arrives with `now`. Chunks are handed out strictly in order, so the
/// caller's secretstream pushes them in order.
struct UploadMachine {
    enum State: Equatable {
        /// FILE-BEGIN sent (last at `sentNs`, first at `sinceNs`); `again`: a restart, when
        /// refusals (400, 404) of chunks sent before may still arrive and are passed over.
        case beginning(sentNs: UInt64, sinceNs: UInt64, again: Bool)
        /// `have` chunks durable on the node; `next` is the next to send.
        case sending(have: UInt32, next: UInt32, lastHeardNs: UInt64)
        case complete
        case failed(Failure)
    }

    enum Failure: Equatable {
        /// The node refused the file (ERROR with the file's id as `ref`).
        case refused(code: UInt16, reason: String)
        /// No FILE-STATUS for `timeoutNs` after the restarts allowed.
        case stalled
        /// The node never answered FILE-BEGIN.
        case unreachable
    }

    enum Action: Equatable {
        case sendBegin
        /// Start the stream and the hash over, and run chunks `0..<to` through them again
        /// (the node holds them; their output is not sent).
        case rewind(to: UInt32)
        /// The node holds this many chunks durably.
        case progress(UInt32)
        /// The node will never take this file (full, too large): drop the resume point.
        case forgetResumePoint
    }

    let chunks: UInt32
    let window: UInt32
    let timeoutNs: UInt64
    let retransmitNs: UInt64
    static let maxRestarts = 3
    private(set) var state: State
    private(set) var restarts = 0

    init(chunks: UInt32, window: UInt32, timeoutNs: UInt64, retransmitNs: UInt64, now: UInt64) {
        self.chunks = chunks
        self.window = window
        self.timeoutNs = timeoutNs
        self.retransmitNs = retransmitNs
        state = .beginning(sentNs: now, sinceNs: now, again: false)
    }

    /// What to send first.
    func start() -> [Action] {
        guard case .beginning = state else { preconditionFailure("Invalid state: start in \(state)") }
        return [.sendBegin]
    }

    /// The chunk to encrypt and send now, if the window has room.
    var nextToSend: UInt32? {
        guard case let .sending(have, next, _) = state, next < chunks, next < have &+ window else { return nil }
        return next
    }

    /// `index` (the `nextToSend`) left.
    mutating func sent(_ index: UInt32) {
        guard case let .sending(have, next, heard) = state, index == next else {
            preconditionFailure("Invalid state: chunk \(index) sent in \(state)")
        }
        state = .sending(have: have, next: next + 1, lastHeardNs: heard)
    }

    /// FILE-STATUS for this file: `durable` chunks are on the node's disk.
    mutating func fileStatus(durable: UInt32, now: UInt64) -> [Action] {
        switch state {
        case .beginning:
            let have = min(durable, chunks)
            state = have == chunks ? .complete : .sending(have: have, next: have, lastHeardNs: now)
            return [.rewind(to: have), .progress(have)]
        case let .sending(have, next, _):
            guard durable > have else {
                state = .sending(have: have, next: next, lastHeardNs: now)
                return []
            }
            let newHave = min(durable, chunks)
            state = newHave == chunks ? .complete : .sending(have: newHave, next: max(next, newHave), lastHeardNs: now)
            return [.progress(newHave)]
        case .complete, .failed:
            return []
        }
    }

    /// ERROR whose `ref` is this file.
    mutating func error(code: UInt16, reason: String, now: UInt64) -> [Action] {
        let outOfOrder = code == ErrorCode.badRequest.rawValue || code == ErrorCode.unknownAddress.rawValue
        switch state {
        case let .beginning(_, _, again):
            if again && outOfOrder { return [] } // a refusal of a chunk sent before the restart
            state = .failed(.refused(code: code, reason: reason))
            return []
        case .sending:
            if outOfOrder && restarts < Self.maxRestarts {
                restarts += 1
                state = .beginning(sentNs: now, sinceNs: now, again: true)
                return [.sendBegin]
            }
            state = .failed(.refused(code: code, reason: reason))
            let full = code == ErrorCode.insufficientStorage.rawValue || code == ErrorCode.tooLarge.rawValue
            return full ? [.forgetResumePoint] : []
        case .complete, .failed:
            return []
        }
    }

    /// Time passed with nothing for this file.
    mutating func tick(now: UInt64) -> [Action] {
        switch state {
        case let .beginning(sentNs, sinceNs, again):
            if now &- sinceNs > timeoutNs {
                state = .failed(again ? .stalled : .unreachable)
                return []
            }
            guard now &- sentNs >= retransmitNs else { return [] }
            state = .beginning(sentNs: now, sinceNs: sinceNs, again: again)
            return [.sendBegin]
        case let .sending(_, _, lastHeardNs):
            guard now &- lastHeardNs > timeoutNs else { return [] }
            guard restarts < Self.maxRestarts else {
                state = .failed(.stalled)
                return []
            }
            restarts += 1
            state = .beginning(sentNs: now, sinceNs: now, again: true)
            return [.sendBegin]
        case .complete, .failed:
            return []
        }
    }
}
