import ArgumentParser
import Foundation
import SealpostClient
import SealpostCore

extension SealpostCommand {
    struct Chat: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Chat interactively with a person or a group: typed lines are sent, incoming messages appear as they arrive.",
            discussion: """
                Type a line and press Enter to send it. Your own lines show their time and state \
                (sending, stored on your node, delivered, seen; for a group: counts per member). \
                Lines starting with / are commands for this chat (never sent): /help lists them. \
                Ctrl-D (or /quit) leaves.
                """)

        @Argument(help: "Who to chat with: user@node, or a group you are in (group@node).") var address: String
        @OptionGroup var labels: LabelOption
        @OptionGroup var profile: ProfileOption

        static let help = [
            "commands (typed here, never sent):",
            "  /help          this list",
            "  /quit          leave (as Ctrl-D)",
            "  //text         send a line that starts with /",
            "your lines: [time] you: text · state — sending, stored on your node, delivered, seen",
        ]

        func run() throws {
            let target = parseAddress(address)
            let p = profile.load()
            let lock = profile.lock()
            let me = p.address.description
            let books = ProfileBooks(profilePath: profile.path, me: me, profile: p)
            let members = books.groups.groups[target.description]?.members
            let client: Client
            do {
                client = try profile.client(p)
                labels.apply(to: client)
                if members == nil { _ = try client.lookup(target) }
                _ = try client.labelInfo()
                printKeyChanges(client, json: false)
            } catch ClientError.refused(let code, _) where code == ErrorCode.unknownAddress.rawValue {
                fail("no person \(target) in the directory, and you are in no group \(target) (sealpost group list shows yours; "
                     + "a group you were just added to appears after sealpost inbox)")
            } catch { fail("\(error)") }
            let terminal = isatty(0) == 1 && isatty(1) == 1
            let raw = terminal ? RawTerminal() : nil
            var screen = ChatScreen(terminal: terminal, width: raw?.size.width ?? 80, height: raw?.size.height ?? 24)
            func out(_ text: String) {
                guard !text.isEmpty else { return }
                FileHandle.standardOutput.write(Data(text.utf8))
            }
            func say(_ lines: [String]) { out(screen.show(lines)) }
            let who = members.map { "group \(target) (\($0.count) members)" } ?? "\(target)"
            say(["chatting with \(who) as \(me)\(client.sendLabelDisplay.map { ", labelled \($0)" } ?? "") — type a message and press Enter; /help for commands; Ctrl-D to leave"])
            var outbox = Outbox(retransmitMs: client.retransmitMs)
            var leaving = false
            /// Bytes read from a pipe, not yet a whole line.
            var typed: [UInt8] = []
            do {
                let reader = MailboxReader(client: client, seen: try SeenLog(profilePath: profile.path), books: books)
                reader.readReceipts = ProfileSettings.load(profilePath: profile.path).read_receipts
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
                            say(["! message \(id.hex) from \(from) could not be opened: \(reason)"])
                        case .waiting(_, let from, _, let first):
                            // Not acknowledged: the reader asks again, and it is shown once the directory knows the sender.
                            if first { say(["* a message from \(from) waits until its sender is in the directory"]) }
                        case .pong:
                            awaitingPong = false
                            if warnedOffline { say(["* connected again"]); warnedOffline = false }
                        case .stored(let id):
                            if case .stored = outbox.stored(id) {
                                out(screen.update(id, state: books.receipts.state(id)?.text ?? "stored on your node"))
                            }
                        case .refused(let code, let ref, let reason):
                            if case .refused(let text, let why)? = outbox.refused(ref, code: code, reason: reason) {
                                out(screen.update(ref, state: "NOT SENT: \(why)"))
                                if !terminal { say(["! not sent: \(why): \(text)"]) }
                            } else if !outbox.lines.contains(where: { $0.envelope.id == ref }) {
                                say(["! \(reason)"])
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
                        say(["* queued, will be sent when the node is back: \(text)"])
                    }
                }

                func show(_ reader: MailboxReader) throws {
                    let render: ([ReceivedMessage]) -> [String] = { batch in
                        // A key change learnt while opening the batch is said before its messages; receipts
                        // are not lines: they move own lines' states (below).
                        keyChangeLines(client, json: false) + batch.compactMap { m in
                            guard m.receiptIds == nil else { return nil }
                            let line = m.line(books: books)
                            let here = members != nil ? m.group == target.description : m.group == nil && m.from == target.description
                            return here ? line : "(\(m.group ?? m.from)) " + line
                        }
                    }
                    if terminal {
                        // The input line is redrawn under what arrives.
                        try reader.settle(render: render) { text in
                            out(screen.show(text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)))
                        }
                    } else {
                        try reader.settle(render: render)
                    }
                    for (id, state) in reader.changedStates { out(screen.update(id, state: state.text)) }
                    say(reader.takeReceiptFailures().map { "! " + $0 })
                    say(keyChangeLines(client, json: false))
                }

                /// A line typed: a local command, or a message to send.
                func entered(_ line: String) {
                    let text = line.trimmingCharacters(in: .whitespaces)
                    if text.isEmpty { return }
                    var message = line
                    if text.hasPrefix("//") {
                        message = String(text.dropFirst())
                    } else if text.hasPrefix("/") {
                        switch text.split(separator: " ").first.map(String.init) ?? text {
                        case "/quit": leaving = true
                        case "/help": say(Self.help)
                        default: say(["unknown command \(text.split(separator: " ")[0]): nothing was sent (/help lists the commands; //text sends a line starting with /)"])
                        }
                        return
                    }
                    do {
                        // Sealed once: every resend carries the same id, and the node stores it once.
                        let envelope = try members.map { try client.prepareGroupText(group: target, members: $0, text: message) }
                            ?? client.prepareText(to: target, text: message)
                        // In the book before it leaves: its delivered receipt may arrive before STORED.
                        books.receipts.recordSent(envelope.id, to: target.description, members: members, me: me,
                                                  sentAt: envelope.sentAt, text: message)
                        try? books.receipts.save()
                        try client.submit(envelope)
                        outbox.add(envelope, text: message, now: Clock.monotonicNs())
                        out(screen.sent(envelope.id, text: message, at: envelope.sentAt))
                    } catch {
                        say(["! not sent: \(error)"])
                    }
                    say(keyChangeLines(client, json: false))
                }

                func wentOffline() {
                    say(["* node not answering; messages will be sent when it is back"])
                    warnedOffline = true
                }

                while !leaving {
                    for event in try client.connection.takeEvents() {
                        switch event {
                        case .lost where !warnedOffline:
                            // The node closed the connection (it stopped): said at once, not after an unanswered keep-alive.
                            wentOffline()
                        case .established where warnedOffline:
                            // Back: ask at once (the answer re-attaches, and says so), and send the queued lines again now.
                            lastPingNs = 0
                            for envelope in outbox.due(now: Clock.monotonicNs(), all: true) { try client.submit(envelope) }
                        default:
                            break
                        }
                    }
                    try drain()
                    let now = Clock.monotonicNs()
                    if now - lastPingNs > 5_000_000_000 {
                        if awaitingPong && !warnedOffline { wentOffline() }
                        try reader.ping()
                        awaitingPong = true
                        lastPingNs = now
                    }
                    guard try client.wait(orReadable: 0, timeoutMs: 500) else { continue }
                    if let raw {
                        guard let bytes = raw.read() else { break }
                        let (keys, echo) = screen.type(bytes)
                        out(echo)
                        for key in keys {
                            switch key {
                            case .line(let line): entered(line)
                            case .end: leaving = true
                            }
                            if leaving { break }
                        }
                    } else {
                        // Read from the descriptor, not through stdio: lines stdio had buffered would
                        // wait unseen by the poll until more input came.
                        var buffer = [UInt8](repeating: 0, count: 4096)
                        let n = read(0, &buffer, buffer.count)
                        if n < 0 && errno == EINTR { continue }
                        if n > 0 { typed += buffer[..<n] }
                        while let newline = typed.firstIndex(of: 0x0A) {
                            let line = String(decoding: typed[..<newline], as: UTF8.self)
                            typed.removeSubrange(...newline)
                            entered(line.hasSuffix("\r") ? String(line.dropLast()) : line)
                            if leaving { break }
                        }
                        if n <= 0 {
                            if !typed.isEmpty && !leaving { entered(String(decoding: typed, as: UTF8.self)) }
                            break
                        }
                    }
                }

                // Leaving: give queued lines the timeout to be stored; then say plainly which were not.
                if !outbox.isEmpty {
                    say(["* waiting up to \(profile.timeoutMs / 1000) s for the node to store \(outbox.lines.count) line(s)…"])
                    let deadline = Clock.monotonicNs() + UInt64(profile.timeoutMs) * 1_000_000
                    while !outbox.isEmpty && Clock.monotonicNs() < deadline {
                        try drain(waitMs: 200)
                    }
                }
                try? reader.detach()
            } catch {
                raw?.restore()
                fail("\(error)")
            }
            raw?.restore()
            if terminal { out("\r\u{1B}[K") }
            for line in outbox.lines { print("! not sent (the node did not store it before you left): \(line.text)") }
            fflush(nil)
            // Nothing unconfirmed may leave after it was reported as not sent.
            client.close(lingerMs: outbox.isEmpty ? 500 : 0)
            withExtendedLifetime(lock) {}
        }
    }
}

/// The terminal in raw mode while `chat` runs (keys one at a time, no echo: the chat draws
/// the input itself), restored when done.
final class RawTerminal {
    private var saved = termios()
    private var active = false

    init() {
        guard tcgetattr(0, &saved) == 0 else { return }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        active = tcsetattr(0, TCSAFLUSH, &raw) == 0
    }

    /// The terminal's size (80 × 24 when it cannot be read).
    var size: (width: Int, height: Int) {
        var w = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0, w.ws_row > 0 else { return (80, 24) }
        return (Int(w.ws_col), Int(w.ws_row))
    }

    /// What was typed (nil at end of input).
    func read() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = Glibc.read(0, &buffer, buffer.count)
            if n > 0 { return Array(buffer[..<n]) }
            if n < 0 && errno == EINTR { continue }
            return nil
        }
    }

    func restore() {
        guard active else { return }
        active = false
        _ = tcsetattr(0, TCSAFLUSH, &saved)
    }

    deinit { restore() }
}
