import ArgumentParser
import Foundation
import SealpostClient
import SealpostCore

/// `--no-forward`, `--forward SCOPE`, `--max-hops N`, `--max-recipients N`: the forward policy
/// signed into a message's origin (protocol/SPEC.md 7.9.5). What is not given is left to the
/// forwarder's node (`forwarding:` in its node.yaml); hops and recipients can only be fewer than it allows.
struct ForwardPolicyOptions: ParsableArguments {
    @Flag(name: .customLong("no-forward"), help: "Nobody may forward this message.") var noForward = false
    @Option(name: .customLong("forward"), help: "Where it may be forwarded: unit (your unit only), federation, or anywhere (default: as the forwarder's node says).")
    var scope: String?
    @Option(name: .customLong("max-hops"), help: "Forwards in a chain at most (1-64; the node's limit applies if lower).") var maxHops: Int?
    @Option(name: .customLong("max-recipients"), help: "Recipients of one forward at most, a group counting as one (1-500; the node's limit applies if lower).")
    var maxRecipients: Int?

    func validate() throws {
        if noForward && (scope != nil || maxHops != nil || maxRecipients != nil) {
            throw ValidationError("--no-forward goes alone: it forbids forwarding altogether")
        }
        if let scope, ForwardScope(name: scope) == nil || scope == "none" || scope == "default" {
            throw ValidationError("--forward must be unit, federation or anywhere (or use --no-forward)")
        }
        if let maxHops, !(1...Forward.maxWireHops).contains(maxHops) { throw ValidationError("--max-hops must be 1 to \(Forward.maxWireHops)") }
        if let maxRecipients, !(1...Forward.maxWireRecipients).contains(maxRecipients) {
            throw ValidationError("--max-recipients must be 1 to \(Forward.maxWireRecipients)")
        }
    }

    var policy: ForwardPolicy {
        ForwardPolicy(scope: noForward ? .none : scope.flatMap(ForwardScope.init(name:)) ?? .unset,
                      maxHops: UInt8(maxHops ?? 0), maxRecipients: UInt16(maxRecipients ?? 0))
    }
}

extension ForwardOrigin {
    var policyText: String {
        let p = policy
        if p.scope == .none { return "no forwarding" }
        return "scope \(p.scope == .unset ? "as the forwarder's node sets" : p.scope.name)"
            + (p.maxHops > 0 ? ", at most \(p.maxHops) hops" : "") + (p.maxRecipients > 0 ? ", at most \(p.maxRecipients) recipients per forward" : "")
    }

    var json: [String: Any] {
        ["id": id.hex, "sender": sender, "unit": unit, "to": to, "sent_at": Clock.rfc3339(ms: sentAt),
         "kind": EnvelopeKind(rawValue: contentKind)?.name ?? "unknown",
         "policy": ["scope": policy.scope.name, "max_hops": Int(policy.maxHops), "max_recipients": Int(policy.maxRecipients)]]
    }
}

extension DowngradeRecord {
    var json: [String: Any] {
        ["by": by, "node": node, "from": LabelSet.standard.contains(from) ? LabelSet.standard.display(from) : "\(from)",
         "to": LabelSet.standard.contains(to) ? LabelSet.standard.display(to) : "\(to)", "from_rank": Int(from), "to_rank": Int(to),
         "at": Clock.rfc3339(ms: at), "reason": reason]
    }

    /// `downgraded 工作秘密 work-secret → 内部 internal by li@hq at TIME (countersigned by hq): REASON`.
    func line(display: (UInt8) -> String) -> String {
        "downgraded \(display(from)) → \(display(to)) by \(by) at \(Clock.rfc3339(ms: at)) (countersigned by \(node)): \(reason)"
    }
}

extension ForwardCheck {
    /// The chain, record by record, for `--json`.
    func json(_ header: (origin: ForwardOrigin, hops: [ForwardHop])) -> [String: Any] {
        var chain: [[String: Any]] = []
        for (i, record) in records.enumerated() {
            var o: [String: Any] = ["signer": record.signer, "at": Clock.rfc3339(ms: record.at),
                                    "signature": record.signatureValid.map { $0 ? "valid" : "INVALID" } ?? "unknown key"]
            if i == 0 {
                o["record"] = "origin"
            } else if i - 1 < header.hops.count {
                let hop = header.hops[i - 1]
                o["record"] = "hop \(i)"
                o["via"] = hop.via
                o["recipients"] = Int(hop.recipients)
                o["recipient_set"] = Hex.encode(hop.recipientSet)
            }
            chain.append(o)
        }
        return ["status": status.rawValue, "problems": problems, "hops": header.hops.count, "origin": header.origin.json, "chain": chain]
    }
}

extension ReceivedForward {
    var json: [String: Any] {
        var o = check.json((header.origin, header.hops))
        o["from"] = header.last?.forwarder ?? ""
        o["summary"] = summary
        if let d = header.downgrade { o["downgrade"] = d.json }
        if !note.isEmpty { o["note"] = note }
        return o
    }
}

extension SealpostCommand {
    struct ForwardMessage: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "forward",
            abstract: "Forward a received text, file or contact card to people and groups, with its signed chain.",
            discussion: """
                The content is sealed again for the new recipients (a file is not uploaded again: \
                their nodes fetch it from yours). The forward carries its origin and every earlier \
                forward, each signed by its sender, and your own hop signed by you; your node and \
                every node on the way record it in their audit logs. The origin's forward policy \
                (no forwarding, unit only, hop and recipient limits, 5 recipients at once by \
                default, a group counting as one) is checked here and by your node. Burn messages \
                and view-once files are never forwarded.
                """)

        @Argument(help: "The id of a received message (as 'sealpost inbox' shows it; a unique prefix is enough).") var id: String
        @Argument(help: "Who gets it: people (user@node) and groups (group@node).") var recipients: [String]
        @Option(help: "A note shown with the forward (at most 4096 bytes).") var note: String = ""
        @OptionGroup var profile: ProfileOption
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            guard !recipients.isEmpty else { throw ValidationError("name at least one recipient") }
            guard note.utf8.count <= Forward.maxNoteBytes else { throw ValidationError("the note is over \(Forward.maxNoteBytes) bytes") }
        }

        func run() throws {
            let targets = recipients.map(parseAddress)
            let p = profile.load()
            let books = ProfileBooks(profilePath: profile.path, me: p.address.description, profile: p)
            if let exact = MessageID(hex: id), books.burns.isBurn(exact) { fail("\(exact.hex) is a burn message: burn messages cannot be forwarded") }
            do {
                guard let forwards = books.forwards else { fail("no forward book") }
                let source = try forwards.source(id)
                if books.burns.isBurn(source.id) { fail("\(source.id.hex) is a burn message: burn messages cannot be forwarded") }
                let client = try profile.client(p)
                defer { client.close() }
                var groups: [String: [String]] = [:]
                for t in targets { if let g = books.groups.groups[t.description] { groups[t.description] = g.members } }
                let sent: [Envelope]
                do {
                    sent = try client.forward(source, to: targets, groups: groups, note: note)
                } catch ClientError.invalid(let reason) {
                    fail("not forwarded: \(reason)")
                } catch ClientError.refused(let code, let reason) where code == ErrorCode.forwardRefused.rawValue {
                    fail("your node refused the forward: \(reason)")
                }
                let hop = source.hops.count + 1
                if json {
                    print(jsonLine(["forwarded": source.id.hex, "hop": hop, "origin": source.origin.json,
                                    "sent": sent.map { ["id": $0.id.hex, "to": $0.to, "status": "stored"] }]))
                } else {
                    print("forwarded \(source.id.hex) to \(sent.map(\.to).joined(separator: ", ")) (forward \(hop) of \(source.origin.sender)'s message of \(Clock.rfc3339(ms: source.origin.sentAt)))")
                }
            } catch { fail("\(error)") }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a received message's signed origin and forward chain, checked again against the directory.")

        @Argument(help: "The id of a received message (a unique prefix is enough).") var id: String
        @Flag(help: "List every record of the chain (the default shows the summary and the records).") var chain = false
        @OptionGroup var profile: ProfileOption
        @Flag(help: "Print as JSON.") var json = false

        func run() throws {
            withForwardSource(id, profile) { source, _, client in
                let check = client.checkChain(source)
                if json {
                    var o = check.json((source.origin, source.hops))
                    o["id"] = source.id.hex
                    o["from"] = source.from
                    o["forwardable"] = source.problem == nil && check.isVerified
                    if let label = source.origin.label { o["origin_label"] = client.labelDisplay(label) }
                    if let d = source.downgrade { o["downgrade"] = d.json }
                    if let label = source.forwardLabel { o["effective_label"] = client.labelDisplay(label.rank) }
                    print(jsonLine(o))
                    return
                }
                let kind = EnvelopeKind(rawValue: source.origin.contentKind)?.name ?? "unknown"
                print("message \(source.id.hex) (\(kind)) from \(source.from), \(source.hops.count) forward\(source.hops.count == 1 ? "" : "s")")
                for (i, record) in check.records.enumerated() {
                    let sig = record.signatureValid.map { $0 ? "signature valid" : "SIGNATURE INVALID" } ?? "signer's key unknown"
                    if i == 0 {
                        print("  origin  \(record.signer) (unit \(source.origin.unit)) at \(Clock.rfc3339(ms: record.at)) to \(source.origin.to); \(source.origin.policyText); \(sig)")
                    } else {
                        let hop = source.hops[i - 1]
                        let via = hop.via == hop.forwarder ? "" : " (received through \(hop.via))"
                        print("  hop \(i)".padding(toLength: 10, withPad: " ", startingAt: 0) + "\(record.signer)\(via) at \(Clock.rfc3339(ms: record.at)) to \(hop.recipients) recipient\(hop.recipients == 1 ? "" : "s"); \(sig)")
                    }
                }
                switch check.status {
                case .verified: print("chain verified: every record is signed by whom it names and links to the one before; the content is the origin's")
                case .forged: print("CHAIN DOES NOT VERIFY (forged or broken):")
                case .unverifiable: print("chain NOT VERIFIED (a key could not be had):")
                }
                for problem in check.problems { print("  - \(problem)") }
                if let label = source.origin.label { print("label: \(client.labelDisplay(label)) (signed in the origin)") }
                if let d = source.downgrade {
                    print("  " + d.line(display: client.labelDisplay))
                    print("forwards carry the downgrade and the label \(client.labelDisplay(d.to))")
                }
            }
        }
    }

    struct Downgrade: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lower the label of a message of your unit (only people your node's labels.downgraders names).",
            discussion: """
                Your node checks that you may, that the message is of your unit and that the label goes \
                down, countersigns the downgrade and records it in its audit log. Your later forwards \
                of the message carry the signed downgrade and the new label, and so does every forward \
                of them.
                """)

        @Argument(help: "The id of a message you received or sent (a unique prefix is enough).") var id: String
        @Option(help: "The new, lower label (内部/internal, …).") var to: String
        @Option(help: "Why (recorded, signed and shown with the chain; at most 255 bytes).") var reason: String
        @OptionGroup var profile: ProfileOption
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--reason must say why") }
            guard reason.utf8.count <= 255 else { throw ValidationError("--reason is over 255 bytes") }
        }

        func run() throws {
            withForwardSource(id, profile) { source, forwards, client in
                let updated: ForwardSource
                do {
                    updated = try client.downgrade(source, to: to, reason: reason)
                } catch ClientError.invalid(let why) {
                    fail("not downgraded: \(why)")
                } catch ClientError.refused(let code, let why) where code == ErrorCode.downgradeRefused.rawValue {
                    fail("your node refused the downgrade: \(why)")
                }
                forwards.add(updated, at: Clock.nowMs())
                try forwards.save()
                guard let record = updated.downgrade else { fail("no downgrade record") }
                if json {
                    var o = record.json
                    o["id"] = updated.id.hex
                    o["origin"] = updated.origin.id.hex
                    print(jsonLine(o))
                } else {
                    print("\(updated.id.hex) " + record.line(display: client.labelDisplay) + "; your forwards of it now carry \(client.labelDisplay(record.to))")
                }
            }
        }
    }
}

/// What `show` and `downgrade` start from: the profile's forward book, the received or sent
/// message `id` in it (a unique prefix is enough) and an open client, closed after `body`.
/// Any error is printed and exits.
private func withForwardSource(_ id: String, _ profile: ProfileOption, _ body: (ForwardSource, ForwardBook, Client) throws -> Void) {
    let p = profile.load()
    let books = ProfileBooks(profilePath: profile.path, me: p.address.description, profile: p)
    do {
        guard let forwards = books.forwards else { fail("no forward book") }
        let source = try forwards.source(id)
        let client = try profile.client(p)
        defer { client.close() }
        try body(source, forwards, client)
    } catch { fail("\(error)") }
}
