import ArgumentParser
import Dispatch
import Foundation
import SealpostClient
import SealpostCore

/// Asks the node for this view's viewer code (it logs it; `sealpost trace --code` resolves it).
/// Without one (a node of an earlier version, or none in time), the watermark names the viewer
/// and the time only, and a warning says so.
func markView(_ client: Client, _ id: MessageID, burn: Bool) -> ViewerMark? {
    do { return try client.viewerMark(for: id, burn: burn) } catch {
        FileHandle.standardError.write(Data("warning: the node gave no viewer code for this view (\(error)); the watermark names you and the time only\n".utf8))
        return nil
    }
}

/// Reads the images of a burn message, checking every limit before anything is sent.
func readBurnImages(_ paths: [String]) -> [Burn.Image] {
    if paths.count > Burn.maxImages {
        fail("a burn message holds at most \(Burn.maxImages) images; you gave \(paths.count). Nothing was sent.")
    }
    return paths.map { path in
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = (attributes?[.size] as? NSNumber)?.intValue else { fail("cannot read image '\(path)'. Nothing was sent.") }
        guard size <= Burn.maxImageBytes else {
            fail("image '\(path)' is \(size) bytes; a burn image may be at most \(Burn.maxImageBytes / 1024 / 1024) MiB (send larger files with send-file --burn). Nothing was sent.")
        }
        guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read image '\(path)'. Nothing was sent.") }
        guard ImageInfo(Array(data)) != nil else { fail("'\(path)' is not a PNG, JPEG, GIF or WebP image. Nothing was sent.") }
        return Burn.Image(name: String(URL(fileURLWithPath: path).lastPathComponent.utf8.prefix(Burn.maxNameBytes)) ?? "image",
                          data: Array(data))
    }
}

extension SealpostCommand {
    struct View: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a burn message once; it is deleted from every node as you view it.",
            discussion: """
                The text is printed with a watermark line naming you. Images are written, each \
                with a visible watermark, as SVG files in a private folder (0700, files 0600) \
                that is wiped after the viewing window, even if this command is interrupted.
                """)

        @Argument(help: "The burn message's id, as the inbox shows it.") var id: String
        @Option(help: "Seconds the images stay on disk before they are wiped (1-600).") var window: Int = 30
        @OptionGroup var profile: ProfileOption
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            guard MessageID(hex: id) != nil else { throw ValidationError("'\(id)' is not a message id (32 hex digits)") }
            guard (1...600).contains(window) else { throw ValidationError("--window must be 1 to 600 seconds") }
        }

        func run() throws {
            let messageID = MessageID(hex: id)!
            let p = profile.load()
            ViewFolder.sweep()
            let books = ProfileBooks(profilePath: profile.path, me: p.address.description)
            let burn: ViewedBurn
            var viewerMark: ViewerMark?
            do {
                let client = try profile.client(p)
                defer { client.close() }
                burn = try client.view(messageID)
                viewerMark = markView(client, messageID, burn: true)
            } catch ClientError.refused(let code, let reason) {
                if code == ErrorCode.gone.rawValue { books.burns.mark(messageID, state: "burned"); try? books.save() }
                fail(code == ErrorCode.gone.rawValue ? "this message has been burned: \(reason)" : reason)
            } catch { fail("\(error)") }
            books.burns.mark(messageID, state: "viewed")
            try? books.save()

            let now = Clock.nowMs()
            let mark = viewerMark?.line ?? Watermark.line(viewer: p.address.description, at: now)
            var written: [(name: String, path: String)] = []
            var folder: ViewFolder?
            if !burn.images.isEmpty {
                do {
                    let f = try ViewFolder(id: messageID, wipeAtMs: now + UInt64(window) * 1000)
                    folder = f
                    // The wiper runs before the first image is written: a view killed at any point
                    // after this leaves nothing behind (started after the writes, a kill between them
                    // and its start left the images for the next view's sweep).
                    f.wipeLater()
                    for (index, image) in burn.images.enumerated() {
                        guard let svg = Watermark.svg(image: image.data, text: mark) else { continue }
                        written.append((image.name, try f.write(name: "\(index + 1)-\(image.name).svg", bytes: svg)))
                    }
                } catch {
                    folder?.wipe()
                    fail("cannot write the images for viewing: \(error)")
                }
            }
            if json {
                var object: [String: Any] = ["id": burn.id.hex, "from": burn.from, "text": burn.text, "watermark": mark,
                                             "viewer_code": viewerMark?.code ?? NSNull(),
                                             "sent_at": Clock.rfc3339(ms: burn.sentAt),
                                             "images": written.map { ["name": $0.name, "path": $0.path] }]
                if let group = burn.group { object["group"] = group }
                if let folder { object["wipe_at"] = Clock.rfc3339(ms: folder.wipeAtMs); object["folder"] = folder.path }
                print(jsonLine(object))
            } else {
                print("--- \(mark) ---")
                print("from \(burn.from)\(burn.group.map { " in \($0)" } ?? ""), sent \(Clock.rfc3339(ms: burn.sentAt))")
                if !burn.text.isEmpty { print(burn.text) }
                for w in written { print("image \(w.name): \(w.path)") }
                if folder != nil { print("(the images are wiped in \(window) s; this message no longer exists on any node)") }
                print("--- \(mark) ---")
            }
            fflush(nil)
            folder?.holdThenWipe(seconds: window)
        }
    }

    /// Started by `view`, detached: wipes a viewing folder at its time even if `view` was killed.
    struct WipeLater: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "wipe-later", shouldDisplay: false)
        @Argument var folder: String
        @Option var atMs: UInt64

        func run() throws {
            signal(SIGINT, SIG_IGN)
            signal(SIGHUP, SIG_IGN)
            let now = Clock.nowMs()
            if atMs > now { usleep(useconds_t(min(atMs - now, 600_000)) * 1000) }
            ViewFolder(existing: folder)?.wipe()
        }
    }

    struct Receipts: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Where a message you sent stands (delivered, seen), or a burn message's deletion receipts; on/off: your read receipts.",
            discussion: """
                sealpost receipts ID: for a message, its state (stored on your node, delivered to the \
                recipient's node, seen; for a group, counts per member); for a burn message, the nodes' \
                signed deletion receipts. sealpost receipts off: others no longer learn that you have \
                seen their messages (delivered receipts come from your node and stay); on: again.
                """)

        @Argument(help: "A message id, as send printed it; or on / off / status for your read receipts.") var id: String
        @OptionGroup var profile: ProfileOption
        @Flag(help: "Print JSON (for a burn message: a list of objects with node, deleted_at, verified).") var json = false

        func validate() throws {
            guard ["on", "off", "status"].contains(id) || MessageID(hex: id) != nil else {
                throw ValidationError("'\(id)' is not a message id (32 hex digits), nor on, off or status")
            }
        }

        func run() throws {
            if ["on", "off", "status"].contains(id) { return setting() }
            let p = profile.load()
            let key = MessageID(hex: id)!.hex
            let books = ProfileBooks(profilePath: profile.path, me: p.address.description)
            guard let sent = books.burns.sent(key) else { return state(MessageID(hex: id)!, books.receipts) }
            let receipts = books.burns.receipts(key)
            var checked: [ReceivedReceipt] = []
            if !receipts.isEmpty {
                do {
                    let client = try profile.client(p)
                    defer { client.close() }
                    _ = try client.nodeKeys()
                    checked = receipts.map { client.check(receipt: $0) }
                } catch { fail("\(error)") }
            }
            if json {
                let list: [[String: Any]] = checked.map { c in
                    var o: [String: Any] = ["node": c.receipt.node, "deleted_at": Clock.rfc3339(ms: c.receipt.deletedAt),
                                            "verified": c.verified, "event": c.receipt.event.name, "subject": c.receipt.subject]
                    if let reason = c.reason { o["reason"] = reason }
                    return o
                }
                guard let data = try? JSONSerialization.data(withJSONObject: list, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
                print(String(decoding: data, as: UTF8.self))
                return
            }
            let expiry = sent.expires_at > 0 ? "expires \(Clock.rfc3339(ms: sent.expires_at))" : "kept unfetched for the nodes' burn time to live"
            print("burn message \(key) to \(sent.to), sent \(Clock.rfc3339(ms: sent.sent_at)), \(expiry)")
            if checked.isEmpty { print("no receipts yet (run sealpost inbox to collect them)") }
            for c in checked {
                let what: String
                switch c.receipt.event {
                case .forwarded: what = "passed it on to \(c.receipt.subject) and deleted its copy"
                case .viewed: what = "deleted it as \(c.receipt.subject) viewed it"
                case .expired: what = "deleted it unviewed (expired) for \(c.receipt.subject)"
                }
                print("  \(c.receipt.node): \(what) at \(Clock.rfc3339(ms: c.receipt.deletedAt)) — "
                      + (c.verified ? "signature verified" : "NOT VERIFIED: \(c.reason ?? "")"))
            }
            for capture in sent.captures {
                print("  CAPTURE: \(capture.by) reported a \(capture.how) at \(Clock.rfc3339(ms: capture.at))")
            }
        }
    }

    struct Capture: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report a screen capture of a burn message to its sender.",
            discussion: "Platform clients call this (Client.reportCapture) when the operating system reports a screenshot or recording while burn content is shown.")

        @Argument(help: "The burn message's id.") var id: String
        @Option(help: "What was detected.") var how: String = "screenshot"
        @OptionGroup var profile: ProfileOption
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            guard MessageID(hex: id) != nil else { throw ValidationError("'\(id)' is not a message id (32 hex digits)") }
        }

        func run() throws {
            let p = profile.load()
            let burn = MessageID(hex: id)!
            let books = ProfileBooks(profilePath: profile.path, me: p.address.description)
            guard let received = books.burns.received(burn.hex), let sender = Address(received.from) else {
                fail("no burn message \(burn.hex) was received on this profile")
            }
            do {
                let client = try profile.client(p)
                defer { client.close() }
                let reportId = try client.reportCapture(burn: burn, sender: sender, how: how)
                print(json ? jsonLine(["id": reportId.hex, "burn": burn.hex, "to": sender.description, "status": "stored"])
                           : "reported the \(how) of \(burn.hex) to \(sender)")
            } catch { fail("\(error)") }
        }
    }
}

/// A private folder for viewing burn images: `$TMPDIR/sealpost-view-UID/ID-WIPEAT-XXXXXX`,
/// mode 0700, files 0600, wiped (overwritten with zeros, synced, unlinked) at `wipeAtMs`.
struct ViewFolder {
    let path: String
    let wipeAtMs: UInt64

    static var base: String {
        let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return tmp + "/sealpost-view-\(getuid())"
    }

    init(id: MessageID, wipeAtMs: UInt64) throws {
        let base = Self.base
        if mkdir(base, 0o700) != 0 && errno != EEXIST { throw ClientError.io("cannot create \(base): \(String(cString: strerror(errno)))") }
        var st = stat()
        guard lstat(base, &st) == 0, st.st_mode & S_IFMT == S_IFDIR, st.st_uid == getuid(), st.st_mode & 0o077 == 0 else {
            throw ClientError.io("\(base) is not a private folder of yours (mode 0700); remove it and try again")
        }
        var template = Array("\(base)/\(id.hex)-\(wipeAtMs)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw ClientError.io("cannot create a viewing folder: \(String(cString: strerror(errno)))") }
        path = String(cString: made)
        self.wipeAtMs = wipeAtMs
    }

    init?(existing path: String) {
        let name = URL(fileURLWithPath: path).lastPathComponent.split(separator: "-")
        guard path.hasPrefix(Self.base + "/"), name.count == 3, let at = UInt64(name[1]) else { return nil }
        self.path = path
        wipeAtMs = at
    }

    func write(name: String, bytes: [UInt8]) throws -> String {
        let safe = String(name.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
        let file = path + "/" + safe
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw ClientError.io("cannot write \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let ok = bytes.withUnsafeBytes { raw in Foundation.write(fd, raw.baseAddress, raw.count) == raw.count }
        guard ok else { throw ClientError.io("cannot write \(file): \(String(cString: strerror(errno)))") }
        return file
    }

    /// Starts a detached `sealpost wipe-later` that wipes the folder at its time even if
    /// this process is killed (its output goes nowhere, so it holds no pipe open).
    func wipeLater() {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["wipe-later", path, "--at-ms", "\(wipeAtMs)"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
    }

    /// Waits out the viewing window (or an interrupt: Ctrl-C, SIGTERM, SIGHUP), then wipes.
    func holdThenWipe(seconds: Int) {
        let done = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { done.signal() }
            source.resume()
            sources.append(source)
        }
        _ = done.wait(timeout: .now() + .seconds(seconds))
        wipe()
        sources.forEach { $0.cancel() }
    }

    /// Overwrites every file with zeros, syncs, unlinks it, then removes the folder.
    func wipe() {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in files {
            let file = path + "/" + name
            let fd = open(file, O_WRONLY | O_NOFOLLOW)
            if fd >= 0 {
                var st = stat()
                if fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG {
                    let zeros = [UInt8](repeating: 0, count: 65_536)
                    var left = Int(st.st_size)
                    while left > 0 {
                        let n = zeros.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, min(left, $0.count)) }
                        if n <= 0 { break }
                        left -= n
                    }
                    fsync(fd)
                }
                close(fd)
            }
            unlink(file)
        }
        rmdir(path)
    }

    /// Wipes the viewing folders whose time has passed (left by a view that was killed).
    static func sweep() {
        let now = Clock.nowMs()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
            if let folder = ViewFolder(existing: base + "/" + name), folder.wipeAtMs <= now { folder.wipe() }
        }
    }
}
