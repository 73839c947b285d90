import Foundation
import SealpostClient
import SealpostCore

extension ClientWorker.Engine {
    /// Sends the contact card of `contact` (anyone in the directory) to a person. The card
    /// carries the contact's directory entry signed by their home node; the receiver checks it
    /// against the key its own node holds and shows it verified or says why not.
    func sendCard(to: String, contact: String) throws -> WorkerReply {
        guard let address = Address(to) else { return .error("'\(to.prefix(80))' is not an address (user@node)", status: 400) }
        guard let person = Address(contact) else { return .error("'\(contact.prefix(80))' is not an address (user@node)", status: 400) }
        guard books.groups.groups[address.description] == nil else { return .error("a contact card goes to a person, not a group", status: 400) }
        let entry = try client.lookup(person)
        let id = try client.sendCard(to: address, contact: person)
        let card: [String: Any] = ["address": entry.address, "name": entry.display, "unit": person.node, "verified": true, "reason": "",
                                   "external": false, "phone": "", "email": ""]
        let record = try history.record(id: id.hex, conversation: address.description, isGroup: false, outgoing: true, from: me,
                                        kind: "card", text: HistoryEntry.json(card) ?? "", sentAt: Clock.nowMs(), state: .stored,
                                        readableUntil: client.lastSentLabel?.readableUntil ?? 0)
        if let record { publishMessage(record) }
        return .json(["id": id.hex, "message": jsonOrNull(record)])
    }
}
