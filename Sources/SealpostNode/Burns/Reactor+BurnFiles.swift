import Foundation
import SealpostCore

/// A view-once (burn) file, as a node knows it from the offer that passed it.
struct BurnFile {
    /// The offer's envelope id: the burn message the receipts name.
    var message: MessageID
    var sender: String
    /// Neighbouring nodes expected to pull the file from here (towards the offer's destinations).
    var pullers: [String]
}

/// View-once files (protocol/SPEC.md 7.7.12): a file offer flagged `burn` makes
/// every node that holds the file remove it as soon as each of its readers has
/// it (no retention), refuse a second download, overwrite its chunks before
/// unlinking them, and send the sender a signed receipt per reader.
extension Reactor {
    /// The view-once file offer an envelope is or carries (a group's fan-out), with its file id.
    func burnFileOffer(_ envelope: Envelope) -> (offer: Envelope, fileId: FileID)? {
        guard let inner = carried(.file, in: envelope), inner.flags & Burn.fileFlag != 0,
              let (offer, _) = try? FileOffer.split(inner.body) else { return nil }
        return (inner, offer.fileId)
    }

    /// A view-once file offer passes this node (from a local sender, on its way, or to a
    /// local recipient): remember which file it is and, when it goes on towards `dest`,
    /// that the next hop will pull the file from here, so the file waits for it.
    func noteBurnFile(_ envelope: Envelope, dest: String?) throws {
        guard let (offer, fileId) = burnFileOffer(envelope) else { return }
        var known = burns.files[fileId] ?? BurnFile(message: offer.id, sender: offer.from, pullers: [])
        if let dest, dest != config.name, let hop = peering.routeTable.nextHop(to: dest), !known.pullers.contains(hop) {
            known.pullers.append(hop)
        }
        let now = Clock.nowMs(), pullers = known.pullers
        try write(ref: offer.id) {
            try store.noteBurnID(offer.id, sender: offer.from, at: now)
            try store.noteBurnFile(fileId, message: offer.id, sender: offer.from, pullers: pullers, at: now)
        }
        let previous = burns.fileSeen(fileId, known)
        batch.onRollback { [weak self] in self?.burns.fileRolledBack(fileId, to: previous) }
        if let file = transfers.files[fileId] { try expectPullers(file) }
    }

    /// Registers the nodes expected to pull a view-once file as its readers.
    func expectPullers(_ file: StoredFile) throws {
        guard let known = burns.files[file.record.id] else { return }
        for hop in known.pullers where file.readers[.node(hop)] == nil { try setReader(file, .node(hop), fetched: false) }
    }

    /// Why `user` can no longer fetch file `id` (a view-once file fetched or expired here), or nil.
    func burnFileRecord(_ id: FileID, user: String) -> String? {
        guard let record = try? store.burnRecord(recipient: user, id: id) else { return nil }
        let when = Clock.rfc3339(ms: record.at)
        return "burned: this view-once file was \(record.event == .expired ? "not fetched in time; it expired" : "fetched") at \(when) and no longer exists"
    }

    /// Whether `reader` already has this view-once file (so it may not have it again).
    func burnFileTaken(_ file: StoredFile, by reader: StoredFile.Reader) -> Bool {
        burns.files[file.record.id] != nil && file.readers[reader] == true && reader != .user(file.record.owner)
    }

    /// A view-once file is gone from this node: one signed receipt per reader — `viewed` for a
    /// person here who fetched it, `forwarded` for a node that pulled it, `expired` for those
    /// who did not. The sender's own upload is not a reader.
    func burnFileGone(_ file: StoredFile) throws {
        guard let known = burns.files[file.record.id] else { return }
        for (reader, fetched) in file.readers.sorted(by: { $0.key < $1.key }) where reader != .user(file.record.owner) {
            switch reader {
            case .user(let name):
                let now = Clock.nowMs(), id = file.record.id
                try write(ref: id) { try store.logBurn(id: id, recipient: name, event: fetched ? .viewed : .expired, at: now) }
                try sendReceipt(fetched ? .viewed : .expired, burn: known.message, sender: known.sender, subject: address(name))
            case .node(let name):
                try sendReceipt(fetched ? .forwarded : .expired, burn: known.message, sender: known.sender, subject: name)
            }
        }
        let id = file.record.id
        try write(ref: known.message) { try store.forgetBurnFile(id) }
        batch.afterCommit { [weak self] in self?.burns.fileGone(id) }
    }
}
