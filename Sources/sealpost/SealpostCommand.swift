import ArgumentParser
import Foundation
import SealpostClient
import SealpostCore
import SealpostWeb

@main
struct SealpostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealpost",
        abstract: "Sealpost: end-to-end encrypted work messaging on your unit's own node.",
        version: SealpostVersion.string,
        subcommands: [Join.self, Send.self, Inbox.self, Chat.self, GroupCommand.self, Directory.self, Card.self, Remind.self,
                      SendFile.self, Fetch.self, View.self, ForwardMessage.self, Show.self, Downgrade.self, Receipts.self, Capture.self, Whoami.self, WipeLater.self, Web.self, Passphrase.self, TraceCommand.self]
    )

    /// A closed output pipe (`sealpost inbox | head`) is an error on write, not a silent death by SIGPIPE.
    static func main() {
        signal(SIGPIPE, SIG_IGN)
        main(nil)
    }
}

struct ProfileOption: ParsableArguments {
    @Option(help: "Profile file (default: $SEALPOST_PROFILE, else ~/.sealpost/profile).")
    var profile: String?

    @Option(help: "Seconds to wait for the node before giving up.")
    var timeout: Double = 10

    var path: String { profile ?? Profile.defaultPath() }

    var timeoutMs: Int { Int(max(0.1, min(timeout, 3600)) * 1000) }

    func client(_ profile: Profile) throws -> Client {
        let client = try Client(profile: profile)
        client.timeoutMs = timeoutMs
        client.pins = KeyPins(profilePath: path)
        client.labelCachePath = path + ".labels"
        ContactBook(profilePath: path).load(into: client)
        return client
    }

    func load() -> Profile {
        do { return try Profile.load(from: path) { try askPassphrase("passphrase for \(path): ") } } catch { fail("\(error)") }
    }

    /// Claims the profile for a command that receives (keep it until the command ends);
    /// exits with a clear error when another process holds it.
    func lock() -> ProfileLock {
        do { return try ProfileLock(profilePath: path) } catch {
            if let web = WebDaemon.running(profilePath: path) {
                fail("the web client runs for this profile (pid \(web.pid)) and receives its messages: read them there (\(web.url)), or stop it first")
            }
            fail("\(error)")
        }
    }
}

/// `path` from the root (relative to the working directory when it is not).
func absolutePath(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}

/// `text` as one shell word: unchanged when it is only safe characters, else in single quotes.
func shellQuoted(_ text: String) -> String {
    let safe = text.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "/._-+=:@,".unicodeScalars.contains($0) }
    return safe && !text.isEmpty ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(code)
}

func jsonLine(_ object: [String: Any]) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}

/// Prints the "key changed for …" notices the client noticed since the last call
/// (one JSON object a line with `json`).
/// The "key changed" notices the client has not shown yet, as output lines.
func keyChangeLines(_ client: Client, json: Bool) -> [String] {
    client.takeKeyChanges().map { json ? jsonLine($0.json) : "! " + $0.notice }
}

func printKeyChanges(_ client: Client, json: Bool) {
    for line in keyChangeLines(client, json: json) { print(line) }
}

func parseAddress(_ text: String) -> Address {
    guard let address = Address(text) else { fail("'\(text)' is not an address: use user@node, e.g. wu@traffic") }
    return address
}

extension ReceivedMessage {
    var json: [String: Any] {
        var object: [String: Any] = ["id": id.hex, "from": from, "to": to, "kind": kind.rawValue, "text": text,
                                     "sent_at": Clock.rfc3339(ms: sentAt)]
        if let card {
            var c: [String: Any] = ["name": card.name, "unit": card.unit, "verified": card.verified, "external": card.external]
            c["address"] = card.address ?? NSNull()
            if let reason = card.reason { c["reason"] = reason }
            if card.external {
                c["phone"] = card.phone
                c["email"] = card.email
                c["reachable"] = false
            }
            object["card"] = c
        }
        if let group { object["group"] = group }
        if let label { object["label"] = label }
        if let labelRank { object["label_rank"] = Int(labelRank) }
        // The label of the content itself: a forward's downgrade's or origin's (SPEC 7.11.11), else its own.
        if let effective = effectiveLabel ?? label { object["effective_label"] = effective }
        if let rank = effectiveLabelRank ?? labelRank { object["effective_label_rank"] = Int(rank) }
        if let readableUntil { object["readable_until"] = Clock.rfc3339(ms: readableUntil) }
        if let r = refusal {
            var o: [String: Any] = ["ref": r.notice.ref.hex, "node": r.notice.node, "recipient": r.notice.recipient,
                                    "reason": r.notice.reason.name, "text": r.notice.text,
                                    "refused_at": Clock.rfc3339(ms: r.notice.refusedAt), "verified": r.verified]
            if let why = r.reason { o["why_unverified"] = why }
            object["refusal"] = o
        }
        if let f = forwardReport {
            let r = f.report
            var o: [String: Any] = ["ref": r.ref.hex, "origin": r.origin.hex, "originator": r.originator, "forwarder": r.forwarder,
                                    "to": r.to, "reason": r.reason, "label_rank": Int(r.label), "hops": Int(r.hops),
                                    "suppressed": Int(r.suppressed), "refused_at": Clock.rfc3339(ms: r.refusedAt), "node": r.node,
                                    "verified": f.verified]
            if let why = f.reason { o["why_unverified"] = why }
            object["forward_report"] = o
        }
        if let file {
            object["file"] = ["id": file.fileId.hex, "name": file.name, "size": file.size, "burn": file.flags & Burn.manifestFlag != 0]
        }
        if let e = groupEvent {
            object["op"] = e.opName
            object["actor"] = e.actor
            if !e.reason.isEmpty { object["reason"] = e.reason }
            object["members"] = e.members.map(\.address)
        }
        if let b = burn {
            object["burn"] = ["images": b.images, "expires_at": b.expiresAt.map { Clock.rfc3339(ms: $0) } ?? NSNull()]
        }
        if let r = receipt {
            var o: [String: Any] = ["burn": r.receipt.burn.hex, "node": r.receipt.node, "event": r.receipt.event.name,
                                    "subject": r.receipt.subject, "deleted_at": Clock.rfc3339(ms: r.receipt.deletedAt),
                                    "verified": r.verified]
            if let reason = r.reason { o["reason"] = reason }
            object["receipt"] = o
        }
        if let c = capture { object["capture"] = ["burn": c.burn.hex, "by": from, "at": Clock.rfc3339(ms: c.at), "how": c.how] }
        if let q = quote { object["quote"] = q.hex }
        if let f = forward { object["forward"] = f.json }
        object["forwardable"] = forwardable.map { $0.problem == nil && forward?.check.isVerified != false } ?? false
        if let r = reminder {
            object["reminder"] = r.id.hex
            if r.dueAt > 0 { object["remind_at"] = Clock.rfc3339(ms: r.dueAt) }
            if let fired = r.firedAt {
                object["fired_at"] = Clock.rfc3339(ms: fired)
                object["late"] = r.late
            }
        }
        return object
    }

    /// One line: a forward shows its chain's summary (and a broken chain as such) before its content.
    var line: String {
        guard let f = forward else { return plainLine }
        let head = "\(group.map { "\($0) " } ?? "")\(from): "
        let tag = "[\(f.summary)] " + (f.note.isEmpty ? "" : "(note: \(f.note)) ")
        guard let range = plainLine.range(of: head) else { return plainLine + " " + tag }
        return plainLine.replacingCharacters(in: range, with: head + tag)
    }

    var plainLine: String {
        let time = Clock.rfc3339(ms: sentAt)
        // The label, in brackets after the time: [2026-12-02 09:00:00 UTC] [敏感 sensitive] wu@traffic: …
        let stamp = String(time.prefix(10)) + " " + String(time.dropFirst(11).prefix(8)) + " UTC"
            + (label.map { "] [\($0)" } ?? "")
        if let r = reminder {
            switch kind {
            case .reminder: return "[\(stamp)] \(from): reminder for \(Clock.rfc3339(ms: r.dueAt)): \(text)  (id \(r.id.hex))"
            case .reminderDue: return "[\(stamp)] REMINDER DUE \(r.id.hex) set by \(from)\(r.late ? " (late: fired more than a second after its time)" : "")"
            default: return "[\(stamp)] \(from) \(text) \(r.id.hex)"
            }
        }
        if let file {
            let once = file.flags & Burn.manifestFlag != 0
            return "[\(stamp)] \(group.map { "\($0) " } ?? "")\(from): \(once ? "burn after reading: " : "")file \(file.name) (\(file.size) bytes) — "
                + (once ? "view it once with" : "fetch it with") + ": sealpost fetch \(file.fileId.hex)"
        }
        if let group {
            if kind == .groupEvent { return "[\(stamp)] \(group): \(text)" }
            if reminder == nil { return "[\(stamp)] \(group) \(from): \(text)" }
        }
        guard let card else { return "[\(stamp)] \(from): \(text)" }
        if card.external {
            let details = [card.unit, card.phone, card.email].filter { !$0.isEmpty }.joined(separator: ", ")
            return "[\(stamp)] \(from): contact card (external, not reachable by chat): \(card.name)\(details.isEmpty ? "" : " — " + details)"
        }
        guard let address = card.address else { return "[\(stamp)] \(from): contact card, NOT VERIFIED: \(card.reason ?? "damaged")" }
        let check = card.verified ? "verified" : "NOT VERIFIED: \(card.reason ?? "unknown reason")"
        return "[\(stamp)] \(from): contact card: \(card.name) <\(address)> of \(card.unit) (\(check))"
            + (card.verified ? " — write to them with: sealpost send \(address) TEXT" : "")
    }
}

extension SealpostCommand {
    struct Join: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join a node with an invite code: makes your keys here and enrols them.")

        @Argument(help: "The invite code your operator gave you (sp1-…).") var code: String
        @Option(help: "Your display name (default: your user name).") var name: String?
        @OptionGroup var profile: ProfileOption
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            do {
                let p = try Enrollment.join(code: code, display: name, profilePath: profile.path, timeoutMs: profile.timeoutMs)
                if json {
                    print(jsonLine(["address": p.address.description, "profile": profile.path]))
                } else {
                    // Hints to paste as they are: with this profile when it is not the default one.
                    let flag = profile.profile == nil ? "" : " --profile " + shellQuoted(absolutePath(profile.path))
                    print("joined as \(p.address); profile written to \(absolutePath(profile.path))")
                    print("send a message:  sealpost send USER@NODE \"hello\"\(flag)")
                    print("read messages:   sealpost inbox\(flag)")
                    print("chat:            sealpost chat USER@NODE\(flag)")
                    print("web client:      sealpost web\(flag)")
                }
            } catch { fail("\(error)") }
        }
    }

    struct Send: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a text; returns once your node has stored it durably.",
            discussion: """
                With --burn the message can be viewed once (sealpost view) and is then deleted \
                from every node; the nodes send you signed deletion receipts (sealpost receipts). \
                A burn message holds a text, up to 6 images (--image, 2 MiB each), or both.
                """)

        @Argument(help: "The recipient, user@node, or a group.") var address: String
        @Argument(help: "The text (at most 64 KiB); optional for a burn message with images.") var text: String?
        @Flag(help: "Burn after reading: one view, then gone from every node.") var burn = false
        @Option(name: .customLong("image"), help: "With --burn: an image (PNG, JPEG, GIF, WebP; at most 2 MiB). Repeat for up to 6.")
        var images: [String] = []
        @Option(help: "With --burn: delete it unviewed after this long (30s, 15m, 2h, 1d; default 24h; the nodes may keep it less).")
        var ttl: String?
        @Option(help: "The id of a message this one quotes or forwards from (never a burn message).") var quote: String?
        @OptionGroup var labels: LabelOption
        @OptionGroup var policy: ForwardPolicyOptions
        @OptionGroup var profile: ProfileOption
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            if !burn && (!images.isEmpty || ttl != nil) { throw ValidationError("--image and --ttl go with --burn") }
            if images.count > Burn.maxImages {
                throw ValidationError("a burn message holds at most \(Burn.maxImages) images; you gave \(images.count). Nothing was sent.")
            }
            if text == nil && images.isEmpty { throw ValidationError("give the text to send\(burn ? " (or --image)" : "")") }
            if let ttl, ReminderTime.duration(ttl) == nil { throw ValidationError("--ttl '\(ttl)' is not a duration like 30s, 15m, 2h or 1d") }
            if burn && policy.policy != ForwardPolicy() { throw ValidationError("a burn message is never forwarded: --no-forward, --forward and the limits do not go with --burn") }
            if let quote {
                if burn { throw ValidationError("a burn message cannot quote another message") }
                guard MessageID(hex: quote) != nil else { throw ValidationError("--quote '\(quote)' is not a message id (32 hex digits)") }
            }
        }

        func run() throws {
            let to = parseAddress(address)
            let p = profile.load()
            let books = ProfileBooks(profilePath: profile.path, me: p.address.description, profile: p)
            let images = burn ? readBurnImages(self.images) : []
            let quoted = quote.flatMap(MessageID.init(hex:))
            if let quoted, books.burns.isBurn(quoted) {
                fail("\(quoted.hex) is a burn message: it cannot be forwarded or quoted")
            }
            do {
                let client = try profile.client(p)
                defer { client.close() }
                labels.apply(to: client)
                client.forwardPolicy = policy.policy
                // Kept with its origin, so its sender can downgrade it later (sealpost downgrade).
                client.keepsOrigin = { books.forwards?.add($0, at: Clock.nowMs()) }
                let members = books.groups.groups[to.description]?.members
                let id: MessageID
                if burn {
                    let ttlMs = ttl.flatMap(ReminderTime.duration) ?? Burn.defaultTTLMs
                    let envelope = try client.prepareBurn(to: to, text: text ?? "", images: images, ttlMs: ttlMs, members: members)
                    try client.store(envelope)
                    books.burns.recordSent(envelope)
                    try books.save()
                    id = envelope.id
                } else if let quoted {
                    guard members == nil else { fail("quoting in a group is not supported yet; send the text without --quote") }
                    id = try client.sendText(to: to, text: text ?? "", quoting: quoted)
                } else {
                    let envelope = try members.map { try client.prepareGroupText(group: to, members: $0, text: text ?? "") }
                        ?? client.prepareText(to: to, text: text ?? "")
                    // In the book before it leaves: its delivered receipt may be taken in before STORED comes back.
                    books.receipts.recordSent(envelope.id, to: to.description, members: members, me: p.address.description,
                                              sentAt: envelope.sentAt, text: text ?? "")
                    try? books.receipts.save()
                    try client.store(envelope)
                    try? books.forwards?.save()
                    id = envelope.id
                }
                let changes = client.takeKeyChanges()
                if json {
                    var object: [String: Any] = ["id": id.hex, "to": to.description, "status": "stored", "state": "stored"]
                    if let label = client.sendLabelDisplay { object["label"] = label }
                    if burn { object["burn"] = true; object["images"] = images.count }
                    if !changes.isEmpty { object["key_changed"] = changes.map(\.json) }
                    print(jsonLine(object))
                } else {
                    for change in changes { print("! " + change.notice) }
                    print((burn ? "sent burn message \(id.hex) to \(to); receipts: sealpost receipts \(id.hex)"
                               : "sent \(id.hex) to \(to): stored on your node '\(p.address.node)'; delivered and seen come back "
                                 + "as receipts (sealpost inbox; sealpost receipts \(id.hex))")
                          + (client.sendLabelDisplay.map { " [\($0)]" } ?? ""))
                }
            } catch { fail("\(error)") }
        }
    }

    struct Inbox: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print what arrived since the last call, oldest first, and acknowledge it.")

        @Option(help: "Wait up to SECONDS for at least one message.") var wait: Double = 0
        @Option(help: "Show at most N messages; the rest wait for the next call.") var limit: Int?
        @OptionGroup var profile: ProfileOption
        @Flag(help: "One JSON object per line.") var json = false

        func validate() throws {
            guard wait >= 0, wait <= 86_400 else { throw ValidationError("--wait must be between 0 and 86400 seconds") }
            if let limit, limit < 1 || limit > 1_000_000 { throw ValidationError("--limit must be between 1 and 1000000") }
        }

        func run() throws {
            let p = profile.load()
            let lock = profile.lock()
            do {
                let client = try profile.client(p)
                defer { client.close() }
                let books = ProfileBooks(profilePath: profile.path, me: p.address.description, profile: p)
                let reader = MailboxReader(client: client, seen: try SeenLog(profilePath: profile.path), books: books,
                                           window: UInt32(min(limit ?? Int(Inbox.window), Int(Inbox.window))))
                reader.readReceipts = ProfileSettings.load(profilePath: profile.path).read_receipts
                let count = try Inbox.collect(reader: reader, waitMs: Int(wait * 1000), limit: limit) { batch in
                    keyChangeLines(client, json: json) + batch.flatMap { m -> [String] in
                        if m.receiptIds != nil { return receiptLines(m, book: books.receipts, json: json) }
                        return [json ? jsonLine(m.json(books: books)) : m.line(books: books)]
                    }
                }
                printKeyChanges(client, json: json)
                for notice in reader.takeReceiptFailures() { FileHandle.standardError.write(Data("note: \(notice)\n".utf8)) }
                if count == 0 && !json { print("no new messages") }
            } catch { fail("\(error)") }
            withExtendedLifetime(lock) {}
        }

        static let window: UInt32 = 1000

        /// Attaches and takes everything waiting (with `waitMs`, waits for at least
        /// one; with `limit`, stops after that many). Every batch is recorded in the
        /// seen log, shown, then acknowledged (`MailboxReader.settle`).
        /// - Returns: how many messages were shown.
        static func collect(reader: MailboxReader, waitMs: Int, limit: Int? = nil, render: ([ReceivedMessage]) -> [String]) throws -> Int {
            let client = reader.client
            try reader.attach()
            var shown = 0
            var lastPingNs = Clock.monotonicNs()
            var synced = false
            var heard = false
            let start = Clock.monotonicNs()

            while true {
                if let limit, shown + reader.batchMessageCount >= limit { break }
                let elapsed = Int((Clock.monotonicNs() - start) / 1_000_000)
                let budget: Int
                if !synced {
                    budget = client.timeoutMs - elapsed
                } else if shown + reader.batchMessageCount == 0 && elapsed < waitMs {
                    // Keep the session alive (the node drops sessions silent for 30 s).
                    if Clock.monotonicNs() - lastPingNs > 10_000_000_000 {
                        try reader.ping()
                        lastPingNs = Clock.monotonicNs()
                    }
                    budget = min(waitMs - elapsed, 10_000)
                } else {
                    budget = 0 // take what is already queued, then stop
                }
                guard let event = try reader.next(timeoutMs: max(budget, 0)) else {
                    if synced && shown + reader.batchMessageCount == 0 && Int((Clock.monotonicNs() - start) / 1_000_000) < waitMs { continue }
                    if !synced && !heard {
                        throw ClientError.unreachable("cannot reach node '\(client.profile.address.node)' at \(client.profile.endpoint): no answer within \(client.timeoutMs / 1000) s (is it running, and does it still know this profile's key?)")
                    }
                    break
                }
                heard = true
                switch event {
                case .delivery:
                    break
                case .undecryptable(let id, let from, let reason):
                    FileHandle.standardError.write(Data("warning: message \(id.hex) from \(from) could not be opened: \(reason)\n".utf8))
                case .synced:
                    synced = true
                case .waiting(let id, let from, let reason, let first):
                    if first {
                        FileHandle.standardError.write(Data("note: message \(id.hex) from \(from) waits (\(reason)); it is shown once its sender is in the directory\n".utf8))
                    }
                case .refused(let code, _, let reason):
                    throw ClientError.refused(code: code, reason: reason)
                case .stored, .pong:
                    break
                }
                // Acknowledge in the middle of a long backlog so the node's window moves on.
                if reader.isFull { shown += try reader.settle(render: render) }
            }
            shown += try reader.settle(render: render)
            try reader.detach()
            try client.flush()
            return shown
        }
    }

    struct Directory: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List people of the whole federation (address, name), verified against their home node's signature.")

        @Argument(help: "Show only entries whose address or name contains this.") var query: String = ""
        @OptionGroup var profile: ProfileOption
        @Flag(help: "One JSON object per line.") var json = false

        func run() throws {
            let p = profile.load()
            do {
                let client = try profile.client(p)
                defer { client.close() }
                let entries = try client.directory(query: query)
                printKeyChanges(client, json: json)
                for e in entries {
                    if json {
                        print(jsonLine(["address": e.address, "name": e.display, "box_key": Hex.encode(e.boxKey),
                                        "sign_key": Hex.encode(e.signKey), "verified": true]))
                    } else {
                        print("\(e.address.padding(toLength: 30, withPad: " ", startingAt: 0)) \(e.display)")
                    }
                }
                if entries.isEmpty && !json { print(query.isEmpty ? "the directory is empty" : "nobody matches '\(query)'") }
            } catch { fail("\(error)") }
        }
    }

    struct Card: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pass a contact card to someone.",
            subcommands: [SendCard.self])

        struct SendCard: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "send",
                abstract: "Send the card of CONTACT (a person of any unit), or of an external contact with --external.",
                discussion: "The card carries the contact's address, name, unit and public keys, signed by the contact's home node; the receiver's client checks it and can write to the contact at once.")

            @Argument(help: "Who receives the card, user@node.") var to: String
            @Argument(help: "The contact, user@node (omit with --external).") var contact: String?
            @Flag(help: "A person not on Sealpost.") var external = false
            @Option(help: "External contact: name.") var name: String?
            @Option(help: "External contact: phone.") var phone: String = ""
            @Option(help: "External contact: organisation.") var org: String = ""
            @Option(help: "External contact: email.") var email: String = ""
            @OptionGroup var labels: LabelOption
            @OptionGroup var policy: ForwardPolicyOptions
            @OptionGroup var profile: ProfileOption
            @Flag(help: "Print the result as JSON.") var json = false

            func validate() throws {
                if external {
                    guard contact == nil else { throw ValidationError("give either CONTACT or --external, not both") }
                    guard let name, !name.isEmpty else { throw ValidationError("--external needs --name") }
                } else {
                    guard contact != nil else { throw ValidationError("give the CONTACT (user@node), or --external --name NAME") }
                    guard name == nil, phone.isEmpty, org.isEmpty, email.isEmpty else {
                        throw ValidationError("--name, --phone, --org and --email go with --external")
                    }
                }
            }

            func run() throws {
                let recipient = parseAddress(to)
                let p = profile.load()
                do {
                    let client = try profile.client(p)
                    defer { client.close() }
                    labels.apply(to: client)
                    client.forwardPolicy = policy.policy
                    let id: MessageID
                    if external {
                        id = try client.sendExternalCard(to: recipient, name: name ?? "", phone: phone, org: org, email: email)
                    } else {
                        id = try client.sendCard(to: recipient, contact: parseAddress(contact ?? ""))
                    }
                    if json {
                        print(jsonLine(["id": id.hex, "to": recipient.description, "status": "stored", "kind": "card"]))
                    } else {
                        print("card sent \(id.hex) to \(recipient)")
                    }
                } catch { fail("\(error)") }
            }
        }
    }

    struct Whoami: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the address and node of this profile.")
        @OptionGroup var profile: ProfileOption
        @Flag(help: "Print as JSON.") var json = false

        func run() throws {
            let p = profile.load()
            if json {
                print(jsonLine(["address": p.address.description, "name": p.display, "endpoint": p.endpoint,
                                "fingerprint": DirectoryEntry.fingerprint(boxKey: p.box.publicKey, signKey: p.sign.publicKey)]))
            } else {
                print("\(p.address) (\(p.display)) via \(p.endpoint)")
                print("key fingerprint \(DirectoryEntry.fingerprint(boxKey: p.box.publicKey, signKey: p.sign.publicKey))")
            }
        }
    }
}
