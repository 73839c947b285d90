import Foundation
import SealpostClient
import SealpostCore
import Sodium

extension ClientWorker.Engine {
    /// Who a file for `to` is sealed for: a group's members, or (nil) the person, whose
    /// directory entry must be known before the upload starts.
    func fileTarget(_ to: String) throws -> WorkerReply {
        guard let address = Address(to) else { return .error("'\(to.prefix(80))' is not an address (user@node)", status: 400) }
        if let group = books.groups.groups[address.description] { return .json(["to": address.description, "members": group.members]) }
        _ = try client.lookup(address)
        return .json(["to": address.description, "members": NSNull()])
    }

    /// The manifest of a received file (its key, header and hash), for the transfer thread.
    func fileManifest(_ fileId: String) -> WorkerReply {
        guard fileId.count == 32, let (manifest, from) = books.files.manifest(fileId) else {
            return .error("no received file \(fileId.prefix(40))", status: 404)
        }
        return .json(["manifest": Sodium.base64(manifest.encode()), "from": from])
    }

    /// Records a file the transfer thread has sent (the node stored its offer) and shows it.
    func recordSentFile(to: String, sent: SentFile) throws -> WorkerReply {
        let isGroup = books.groups.groups[to] != nil
        let text = HistoryEntry.json(["file_id": sent.fileId.hex, "name": sent.name, "size": sent.size, "burn": false]) ?? ""
        let record = try history.record(id: sent.id.hex, conversation: to, isGroup: isGroup, outgoing: true, from: me, kind: "file",
                                        text: text, sentAt: Clock.nowMs(), state: .stored, readableUntil: sent.readableUntil)
        if let record { publishMessage(record) }
        return .json(["message": jsonOrNull(record)])
    }
}
