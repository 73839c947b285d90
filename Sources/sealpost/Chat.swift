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
        @OptionGroup var profile: ProfileOption

        func run() throws {
            let peer = parseAddress(address)
            let p = profile.load()
            let client: Client
            do {
                client = try profile.client(p)
                _ = try client.lookup(peer)
                printKeyChanges(client, json: false)
            } catch { fail("\(error)") }
            defer { client.close(lingerMs: 500) }
            let seen = SeenLog(profilePath: profile.path)
            let books = ProfileBooks(profilePath: profile.path, me: p.address.description)
            print("chatting with \(peer) as \(p.address) — type a message and press Enter; Ctrl-D to leave")
            fflush(nil)
            do {
                try client.attach()
                var lastPingNs = Clock.monotonicNs()
                var awaitingPong = false
                var warnedOffline = false
                var announcedWaiting = Set<MessageID>()
                var blockedAt: UInt64?
                var lastRetryNs = Clock.monotonicNs()
                while true {
                    var shown: [ReceivedMessage] = []
                    var lastSeq: UInt64 = 0
                    while let event = try client.next(timeoutMs: 0) {
                        switch event {
                        case .message(let m):
                            lastSeq = max(lastSeq, m.seq)
                            if !seen.contains(m.id) { shown.append(m) }
                        case .undecryptable(let seq, let id, let from, let reason):
                            lastSeq = max(lastSeq, seq)
                            print("! message \(id.hex) from \(from) could not be opened: \(reason)")
                        case .senderUnknown(let seq, let id, let from, _):
                            // Not acknowledged: it comes again when we re-attach, once the directory knows the sender.
                            if !announcedWaiting.contains(id) {
                                announcedWaiting.insert(id)
                                print("* a message from \(from) waits until its sender is in the directory")
                            }
                            blockedAt = min(blockedAt ?? seq, seq)
                        case .pong(let attached):
                            awaitingPong = false
                            if warnedOffline { print("* connected again"); warnedOffline = false }
                            if !attached { try client.attach() }
                        case .refused(_, _, let reason):
                            print("! \(reason)")
                        case .synced, .stored:
                            break
                        }
                    }
                    printKeyChanges(client, json: false)
                    if lastSeq > 0 {
                        for m in shown {
                            print(m.from == peer.description ? m.line : "(\(m.from)) " + m.line)
                            books.note(m)
                        }
                        try books.save()
                        fflush(nil)
                        seen.add(shown.map(\.id))
                        try seen.save()
                        // Never past a message that could not be opened yet.
                        let through = blockedAt.map { min(lastSeq, $0 - 1) } ?? lastSeq
                        if through > 0 { try client.ack(through) }
                    }
                    if blockedAt != nil && Clock.monotonicNs() - lastRetryNs > 5_000_000_000 {
                        // Ask for everything unacknowledged again; the seen log drops what was shown.
                        lastRetryNs = Clock.monotonicNs()
                        blockedAt = nil
                        try client.attach()
                    }
                    let now = Clock.monotonicNs()
                    if now - lastPingNs > 5_000_000_000 {
                        if awaitingPong && !warnedOffline {
                            print("* node not answering; messages will be sent when it is back")
                            warnedOffline = true
                        }
                        try client.ping()
                        awaitingPong = true
                        lastPingNs = now
                    }
                    guard try client.wait(orReadable: 0, timeoutMs: 1000) else { continue }
                    guard let line = readLine() else { break }
                    let text = line.trimmingCharacters(in: .whitespaces)
                    if text.isEmpty { continue }
                    if text == "/quit" { break }
                    do {
                        _ = try client.sendText(to: peer, text: line)
                    } catch {
                        print("! not sent: \(error)")
                    }
                    printKeyChanges(client, json: false)
                    fflush(nil)
                }
            } catch { fail("\(error)") }
        }
    }
}
