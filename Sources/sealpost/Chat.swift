import ArgumentParser
import Foundation
import SealpostClient
import SealpostCore

extension SealpostCommand {
    struct Chat: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Chat interactively: typed lines are sent, incoming messages appear as they arrive.",
            discussion: "Type a line and press Enter to send it. Ctrl-D (or /quit) leaves.")

        @Argument(help: "Who to chat with, user@node.") var address: String
        @OptionGroup var labels: LabelOption
        @OptionGroup var profile: ProfileOption

        func run() throws {
            let peer = parseAddress(address)
            let p = profile.load()
            let lock = profile.lock()
            let client: Client
            do {
                client = try profile.client(p)
                labels.apply(to: client)
                _ = try client.lookup(peer)
                _ = try client.labelInfo()
                printKeyChanges(client, json: false)
            } catch { fail("\(error)") }
            print("chatting with \(peer) as \(p.address)\(client.sendLabelDisplay.map { ", labelled \($0)" } ?? "") — type a message and press Enter; Ctrl-D to leave")
            fflush(nil)
            var outbox = Outbox(retransmitMs: client.retransmitMs)
            do {
                let reader = MailboxReader(client: client, seen: try SeenLog(profilePath: profile.path),
                                           books: ProfileBooks(profilePath: profile.path, me: p.address.description, profile: p))
                try reader.attach()
                var lastPingNs = Clock.monotonicNs()
                var awaitingPong = false
                var warnedOffline = false

                /// Takes what the node sent: notices at once, messages recorded, shown, acknowledged.
                func drain(waitMs: Int = 0) throws {
                    var wait = waitMs
                    while let event = try reader.next(timeoutMs: wait) {
                        wait = 0
                        switch event {
                        case .delivery:
                            if reader.isFull { try show(reader) }
                        case .undecryptable(let id, let from, let reason):
                            print("! message \(id.hex) from \(from) could not be opened: \(reason)")
                        case .waiting(_, let from, _, let first):
                            // Not acknowledged: the reader asks again, and it is shown once the directory knows the sender.
                            if first { print("* a message from \(from) waits until its sender is in the directory") }
                        case .pong:
                            awaitingPong = false
                            if warnedOffline { print("* connected again"); warnedOffline = false }
                        case .stored(let id):
                            if case .stored(let text, true)? = outbox.stored(id) { print("* sent: \(text)") }
                        case .refused(let code, let ref, let reason):
                            if case .refused(let text, let why)? = outbox.refused(ref, code: code, reason: reason) {
                                print("! not sent: \(why): \(text)")
                            } else if !outbox.lines.contains(where: { $0.envelope.id == ref }) {
                                print("! \(reason)")
                            }
                        case .synced:
                            break
                        }
                    }
                    try show(reader)
                    try reader.retryIfDue()
                    let now = Clock.monotonicNs()
                    for envelope in outbox.due(now: now) { try client.submit(envelope) }
                    for text in outbox.toAnnounce(now: now, offline: warnedOffline) {
                        print("* queued, will be sent when the node is back: \(text)")
                    }
                    fflush(nil)
                }

                func show(_ reader: MailboxReader) throws {
                    fflush(nil)
                    try reader.settle { batch in
                        // A key change learnt while opening the batch is said before its messages.
                        keyChangeLines(client, json: false)
                            + batch.map { $0.from == peer.description ? $0.line : "(\($0.from)) " + $0.line }
                    }
                    printKeyChanges(client, json: false)
                }

                while true {
                    try drain()
                    let now = Clock.monotonicNs()
                    if now - lastPingNs > 5_000_000_000 {
                        if awaitingPong && !warnedOffline {
                            print("* node not answering; messages will be sent when it is back")
                            warnedOffline = true
                        }
                        try reader.ping()
                        awaitingPong = true
                        lastPingNs = now
                    }
                    guard try client.wait(orReadable: 0, timeoutMs: 500) else { continue }
                    guard let line = readLine() else { break }
                    let text = line.trimmingCharacters(in: .whitespaces)
                    if text.isEmpty { continue }
                    if text == "/quit" { break }
                    do {
                        // Sealed once: every resend carries the same id, and the node stores it once.
                        let envelope = try client.prepareText(to: peer, text: line)
                        try client.submit(envelope)
                        outbox.add(envelope, text: line, now: Clock.monotonicNs())
                    } catch {
                        print("! not sent: \(error)")
                    }
                    printKeyChanges(client, json: false)
                    fflush(nil)
                }

                // Leaving: give queued lines the timeout to be stored; then say plainly which were not.
                if !outbox.isEmpty {
                    print("* waiting up to \(profile.timeoutMs / 1000) s for the node to store \(outbox.lines.count) line(s)…")
                    fflush(nil)
                    let deadline = Clock.monotonicNs() + UInt64(profile.timeoutMs) * 1_000_000
                    while !outbox.isEmpty && Clock.monotonicNs() < deadline {
                        try drain(waitMs: 200)
                    }
                }
                try? reader.detach()
            } catch { fail("\(error)") }
            for line in outbox.lines { print("! not sent (the node did not store it before you left): \(line.text)") }
            fflush(nil)
            // Nothing unconfirmed may leave after it was reported as not sent.
            client.close(lingerMs: outbox.isEmpty ? 500 : 0)
            withExtendedLifetime(lock) {}
        }
    }
}
