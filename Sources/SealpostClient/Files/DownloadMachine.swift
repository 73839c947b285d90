import SealpostCore

/// The client side of one download (SPEC 7.8.4): FILE-GET for a window of chunks ahead,
/// chunks accepted strictly in order (a repeat after asking again is passed over), a resume
/// point every `checkpointEvery` chunks, asking again from the next missing chunk when the
/// node falls silent (it may have restarted), and giving up after `timeoutNs` of silence.
///
/// No I/O and no clock: `Client.fetchFile` decrypts, writes and syncs what the actions say.
struct DownloadMachine {
    enum State: Equatable {
        /// `next`: the next chunk to accept; `requested`: chunks asked for so far (from 0);
        /// `nodeHas`: what the node said it holds while it pulls the file from its origin.
        case fetching(next: UInt32, requested: UInt32, lastHeardNs: UInt64, lastAskedNs: UInt64, nodeHas: UInt32?)
        case complete
        case failed(Failure)
    }

    enum Failure: Equatable {
        case refused(code: UInt16, reason: String)
        /// Silent for `timeoutNs`; `nodeHas`: the node was still pulling the file (it had that many chunks).
        case stalled(nodeHas: UInt32?)
    }

    enum Action: Equatable {
        /// FILE-GET `count` chunks from `from`.
        case ask(from: UInt32, count: UInt32)
        /// Decrypt and write this chunk (it is the next one, in order).
        case accept(UInt32)
        /// Sync the part file and write the resume point after `chunks` chunks.
        case checkpoint(chunks: UInt32)
    }

    let chunks: UInt32
    let window: UInt32
    let checkpointEvery: UInt32
    let timeoutNs: UInt64
    /// Silent this long (and not asked in as long): ask again from `next`.
    let reaskNs: UInt64
    private(set) var state: State

    /// Starts at `next` (chunks already in the part file from an earlier run).
    init(chunks: UInt32, next: UInt32, window: UInt32, checkpointEvery: UInt32, timeoutNs: UInt64, reaskNs: UInt64, now: UInt64) {
        precondition(next <= chunks && window > 0 && checkpointEvery > 0)
        self.chunks = chunks
        self.window = window
        self.checkpointEvery = checkpointEvery
        self.timeoutNs = timeoutNs
        self.reaskNs = reaskNs
        state = next == chunks ? .complete
            : .fetching(next: next, requested: next, lastHeardNs: now, lastAskedNs: now, nodeHas: nil)
    }

    /// The first FILE-GET.
    mutating func start(now: UInt64) -> [Action] { askIfLow(now: now, force: true) }

    /// A FILE-CHUNK of this file arrived (before decryption).
    mutating func chunk(index: UInt32, now: UInt64) -> [Action] {
        guard case let .fetching(next, requested, _, asked, has) = state else { return [] }
        state = .fetching(next: next, requested: requested, lastHeardNs: now, lastAskedNs: asked, nodeHas: has)
        guard index == next else { return [] } // a repeat after asking again
        let after = next + 1
        var actions: [Action] = [.accept(index)]
        if after == chunks {
            state = .complete
            return actions
        }
        state = .fetching(next: after, requested: max(requested, after), lastHeardNs: now, lastAskedNs: asked, nodeHas: has)
        if after % checkpointEvery == 0 { actions.append(.checkpoint(chunks: after)) }
        return actions + askIfLow(now: now, force: false)
    }

    /// FILE-STATUS: the node holds `have` chunks (it is still pulling the file from its origin).
    mutating func fileStatus(have: UInt32, now: UInt64) {
        guard case let .fetching(next, requested, _, asked, _) = state else { return }
        state = .fetching(next: next, requested: requested, lastHeardNs: now, lastAskedNs: asked, nodeHas: have)
    }

    /// ERROR whose `ref` is this file: the download cannot go on.
    mutating func error(code: UInt16, reason: String) {
        guard case .fetching = state else { return }
        state = .failed(.refused(code: code, reason: reason))
    }

    /// Time passed with nothing for this file.
    mutating func tick(now: UInt64) -> [Action] {
        guard case let .fetching(next, _, heard, asked, has) = state else { return [] }
        let idle = now &- heard
        if idle > timeoutNs {
            state = .failed(.stalled(nodeHas: has))
            return [.checkpoint(chunks: next)]
        }
        guard idle > reaskNs, now &- asked > reaskNs else { return [] }
        // The node may have restarted and forgotten what was asked: ask again from the next missing chunk.
        state = .fetching(next: next, requested: next, lastHeardNs: heard, lastAskedNs: asked, nodeHas: has)
        return askIfLow(now: now, force: true)
    }

    /// FILE-GET the next window once half of the last one arrived (or now, when `force`).
    private mutating func askIfLow(now: UInt64, force: Bool) -> [Action] {
        guard case let .fetching(next, requested, heard, _, has) = state else { return [] }
        guard force || requested - next <= window / 2 else { return [] }
        let count = min(window, chunks - requested)
        guard count > 0 else { return [] }
        state = .fetching(next: next, requested: requested + count, lastHeardNs: heard, lastAskedNs: now, nodeHas: has)
        return [.ask(from: requested, count: count)]
    }
}
