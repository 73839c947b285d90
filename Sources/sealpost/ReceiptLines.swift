import Foundation
import SealpostClient
import SealpostCore

/// How a `delivered` or `seen` receipt is shown: never as a message, as the state of the
/// own messages it is about. Text: one `*` line per message whose state it moved (none for
/// a repeat); JSON: one `receipt` object with the ids and the states now.
func receiptLines(_ m: ReceivedMessage, book: ReceiptBook, json: Bool) -> [String] {
    let ids = m.receiptIds ?? []
    if json {
        let states: [[String: Any]] = ids.compactMap { id in
            guard let state = book.state(id) else { return nil }
            var o = state.json
            o["id"] = id.hex
            return o
        }
        return [jsonLine(["kind": "receipt", "receipt": m.kind.rawValue, "by": m.from, "ids": ids.map(\.hex),
                          "at": Clock.rfc3339(ms: m.sentAt), "states": states])]
    }
    return ids.compactMap { id in
        guard let sent = book.sent(id), let state = book.state(id) else { return nil }
        let what = m.kind == .seen ? "seen by \(m.from)" : "delivered to \(m.from)'s node"
        return "* \(what): \"\(sent.preview)\" to \(sent.to) — now \(state.text) (\(id.hex.prefix(8)))"
    }
}

extension SealpostCommand.Receipts {
    /// `receipts on|off|status`: the profile's read-receipt setting.
    func setting() {
        var settings = ProfileSettings.load(profilePath: profile.path)
        if id != "status" {
            settings.read_receipts = id == "on"
            do { try settings.save(profilePath: profile.path) } catch { fail("cannot save the setting: \(error)") }
        }
        if json {
            print(jsonLine(["read_receipts": settings.read_receipts]))
        } else {
            print(settings.read_receipts
                  ? "read receipts on: people you write with see when you have seen their messages"
                  : "read receipts off: nobody learns when you have seen their messages (their nodes still tell them it was delivered)")
        }
    }

    /// `receipts ID` for a message that is not a burn message: where it stands.
    func state(_ id: MessageID, _ book: ReceiptBook) {
        guard let sent = book.sent(id), let state = book.state(id) else {
            fail("you sent no message \(id.hex) from this profile (or it is older than the last \(ReceiptBook.capacity))")
        }
        if json {
            var o = state.json
            o["id"] = id.hex
            o["to"] = sent.to
            o["delivered_by"] = sent.delivered.sorted()
            o["seen_by"] = sent.seen.sorted()
            print(jsonLine(o))
            return
        }
        print("message \(id.hex) to \(sent.to), sent \(Clock.rfc3339(ms: sent.sent_at)): \(state.text)")
        for r in sent.recipients.sorted() {
            let stage = sent.seen.contains(r) ? "seen" : sent.delivered.contains(r) ? "delivered" : "stored, not delivered yet"
            print("  \(r): \(stage)")
        }
        print("(receipts arrive with sealpost inbox or chat)")
    }
}

extension ReceivedMessage {
    /// The text of the reminder a due notice is about, from the books (the notice itself carries none).
    func reminderText(books: ProfileBooks) -> String? {
        guard kind == .reminderDue, let r = reminder else { return nil }
        return books.reminders.received(r.id.hex)?.text ?? books.reminders.sent(r.id.hex)?.text
    }

    /// `line`, with what only the books know: a due reminder's text.
    func line(books: ProfileBooks) -> String {
        reminderText(books: books).map { line + ": " + $0 } ?? line
    }

    /// `json`, with a due reminder's text (`reminder_text`).
    func json(books: ProfileBooks) -> [String: Any] {
        var object = json
        if let text = reminderText(books: books) { object["reminder_text"] = text }
        return object
    }
}
