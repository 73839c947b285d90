import ArgumentParser
import Foundation
import SealpostClient
import SealpostCore

extension SealpostCommand {
    struct Remind: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reminders that fire for the sender and the recipient at a set time.",
            discussion: "sealpost remind ADDRESS --at TIME TEXT  (or --in 30s / 15m / 2h / 1d)",
            subcommands: [Set.self, List.self, Cancel.self, Done.self, Status.self],
            defaultSubcommand: Set.self)

        struct Set: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "set",
                abstract: "Send a reminder now; at the due time both of you get a due notice from your own nodes.")

            @Argument(help: "The recipient, user@node.") var address: String
            @Argument(help: "What to be reminded of.") var text: String
            @Option(help: "When: RFC 3339 (2026-11-25T09:00:00Z) or local 'YYYY-MM-DD HH:MM'.") var at: String?
            @Option(name: .customLong("in"), help: "Or after a duration: 30s, 15m, 2h, 1d.") var after: String?
            @OptionGroup var labels: LabelOption
            @OptionGroup var profile: ProfileOption
            @Flag(help: "Print the result as JSON.") var json = false

            func validate() throws {
                guard (at == nil) != (after == nil) else { throw ValidationError("give exactly one of --at TIME or --in DURATION") }
                if let at, ReminderTime.absolute(at) == nil {
                    throw ValidationError("cannot read --at '\(at)': use 2026-11-25T09:00:00Z or '2026-11-25 09:00'")
                }
                if let after, ReminderTime.duration(after) == nil {
                    throw ValidationError("cannot read --in '\(after)': use 30s, 15m, 2h, 1d or 1h30m")
                }
            }

            func run() throws {
                let to = parseAddress(address)
                let due = at.flatMap { ReminderTime.absolute($0) } ?? (Clock.nowMs() + (after.flatMap { ReminderTime.duration($0) } ?? 0))
                let p = profile.load()
                do {
                    let client = try profile.client(p)
                    defer { client.close() }
                    labels.apply(to: client)
                    // To a group: every member is reminded, and the status tracks each of them.
                    let group = GroupBook(profilePath: profile.path).groups[to.description]
                    let id = try group.map { try client.remindGroup(group: to, members: $0.members, at: due, text: text) }
                        ?? client.remind(to: to, at: due, text: text)
                    let book = ReminderBook(profilePath: profile.path)
                    book.recordSent(id, to: group.map { $0.members.filter { $0 != p.address.description } } ?? [to.description],
                                    dueAt: due, text: text, group: group == nil ? nil : to.description)
                    try book.save()
                    if json {
                        print(jsonLine(["id": id.hex, "to": to.description, "remind_at": Clock.rfc3339(ms: due), "status": "stored"]))
                    } else {
                        print("reminder \(id.hex) set for \(to) at \(Clock.rfc3339(ms: due)); you are reminded too")
                    }
                } catch { fail("\(error)") }
            }
        }

        struct Cancel: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Withdraw a reminder you set; recipients' due notices are removed on their nodes.")
            @Argument(help: "The reminder id.", transform: { $0.lowercased() }) var id: String
            @OptionGroup var profile: ProfileOption

            func run() throws {
                let p = profile.load()
                let book = ReminderBook(profilePath: profile.path)
                guard let sent = book.sent(id), let reminder = MessageID(hex: id) else { fail("no reminder \(id) set from this profile") }
                guard !sent.cancelled else { fail("reminder \(id) is already cancelled") }
                do {
                    let client = try profile.client(p)
                    defer { client.close() }
                    // A group reminder is cancelled through the group (one envelope, fanned out by its home node).
                    let target = sent.group.flatMap(Address.init).map { [$0] } ?? sent.to.compactMap(Address.init)
                    try client.cancelReminder(reminder, recipients: target)
                    book.markCancelled(id)
                    try book.save()
                    print("reminder \(id) cancelled for \(sent.to.joined(separator: ", "))")
                } catch { fail("\(error)") }
            }
        }

        struct Done: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Tell the sender you have done what a reminder asked.")
            @Argument(help: "The reminder id (as inbox shows it).", transform: { $0.lowercased() }) var id: String
            @OptionGroup var profile: ProfileOption

            func run() throws {
                let p = profile.load()
                let book = ReminderBook(profilePath: profile.path)
                guard let received = book.received(id), let reminder = MessageID(hex: id), let sender = Address(received.from) else {
                    fail("no reminder \(id) received on this profile (run sealpost inbox first)")
                }
                do {
                    let client = try profile.client(p)
                    defer { client.close() }
                    try client.markReminderDone(reminder, sender: sender)
                    book.markDoneLocally(id)
                    try book.save()
                    print("told \(sender) that reminder \(id) is done")
                } catch { fail("\(error)") }
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List your reminders, soonest first: the ones you set (who has done them) and the ones you received.",
                discussion: "Reminders received show once sealpost inbox (or chat, or the web client) has taken them in.")
            @Flag(help: "Also those cancelled or due more than a day ago.") var all = false
            @OptionGroup var profile: ProfileOption
            @Flag(help: "One JSON object per line.") var json = false

            func run() throws {
                let book = ReminderBook(profilePath: profile.path)
                let now = Clock.nowMs()
                let dayAgo = now &- 86_400_000
                struct Row { var id: String; var due: UInt64; var object: [String: Any]; var line: String; var old: Bool }
                var rows: [Row] = []
                for (id, s) in book.allSent {
                    let notDone = s.to.filter { !s.done.contains($0) }
                    let when = s.cancelled ? "cancelled" : s.due_at <= now ? "due" : "upcoming"
                    rows.append(Row(id: id, due: s.due_at,
                                    object: ["id": id, "set_by": "you", "to": s.group ?? s.to.joined(separator: ","), "remind_at": Clock.rfc3339(ms: s.due_at),
                                             "text": s.text, "state": when, "done": s.done, "not_done": notDone],
                                    line: "\(Clock.rfc3339(ms: s.due_at))  \(when.padding(toLength: 9, withPad: " ", startingAt: 0)) to \(s.group ?? s.to.joined(separator: ", ")): \(s.text)"
                                        + "  (done \(s.done.count)/\(s.to.count); id \(id))",
                                    old: s.cancelled || s.due_at < dayAgo))
                }
                for (id, r) in book.allReceived where book.allSent[id] == nil {
                    let when = r.cancelled ? "cancelled" : r.due_at <= now ? "due" : "upcoming"
                    rows.append(Row(id: id, due: r.due_at,
                                    object: ["id": id, "set_by": r.from, "remind_at": Clock.rfc3339(ms: r.due_at), "text": r.text,
                                             "state": when, "done_by_you": r.done],
                                    line: "\(Clock.rfc3339(ms: r.due_at))  \(when.padding(toLength: 9, withPad: " ", startingAt: 0)) from \(r.from): \(r.text)"
                                        + "  (\(r.done ? "you marked it done" : "not done: sealpost remind done \(id)"))",
                                    old: r.cancelled || r.due_at < dayAgo))
                }
                let shown = rows.filter { all || !$0.old }.sorted { ($0.due, $0.id) < ($1.due, $1.id) }
                for row in shown { print(json ? jsonLine(row.object) : row.line) }
                if shown.isEmpty && !json {
                    print(rows.isEmpty ? "no reminders (set one with: sealpost remind ADDRESS --in 1h TEXT)" : "no current reminders (--all shows \(rows.count) older or cancelled)")
                }
            }
        }

        struct Status: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Who has and who has not done a reminder you set.")
            @Argument(help: "The reminder id.", transform: { $0.lowercased() }) var id: String
            @OptionGroup var profile: ProfileOption
            @Flag(help: "Print as JSON.") var json = false

            func run() throws {
                let book = ReminderBook(profilePath: profile.path)
                guard let sent = book.sent(id) else { fail("no reminder \(id) set from this profile") }
                let pending = sent.to.filter { !sent.done.contains($0) }
                if json {
                    print(jsonLine(["id": id, "remind_at": Clock.rfc3339(ms: sent.due_at), "text": sent.text, "cancelled": sent.cancelled,
                                    "done": sent.done, "not_done": pending]))
                } else {
                    print("reminder \(id) for \(Clock.rfc3339(ms: sent.due_at))\(sent.cancelled ? " (cancelled)" : ""): \(sent.text)")
                    print("  done:     \(sent.done.isEmpty ? "nobody yet" : sent.done.joined(separator: ", "))")
                    print("  not done: \(pending.isEmpty ? "nobody" : pending.joined(separator: ", "))")
                }
            }
        }
    }
}
