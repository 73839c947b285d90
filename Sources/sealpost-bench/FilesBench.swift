import ArgumentParser
import Foundation
import Logging
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Synchronization

extension Bench {
    struct Files: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "files",
            abstract: "A file from a user of one node to a user of another: upload, node-to-node pull, download, memory, and chat latency meanwhile.",
            discussion: "Two nodes (hq, traffic) and four clients in this process. alice@hq uploads to hq, traffic pulls from hq, wu@traffic downloads from traffic; carol@hq writes to dave@traffic at --chat-rate the whole time. Peak RSS is this whole process (both nodes and every client).")

        @Option(help: "File size in MiB (2048 = the 2 GiB limit).") var sizeMb = 2048
        @Option(help: "Chat texts per second during the transfer.") var chatRate: Double = 200
        @Option(help: "Directory for the nodes and the files (default: the temp dir).") var dir: String?
        @Option(help: "The nodes' files.send_mb_s (chunk send pacing; 0: none); default: the node's default.") var sendMbS: Int?
        @Option(help: "Nice value for the thread of the uploading and downloading clients (as if they ran on their own devices, not on the nodes' two cores).") var transferNice: Int32 = 0
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            guard sizeMb > 0, UInt64(sizeMb) * 1_048_576 <= FileChunks.maxFileBytes else { throw ValidationError("--size-mb must be 1...2048") }
            guard chatRate > 0, chatRate <= 10_000 else { throw ValidationError("--chat-rate must be 1...10000") }
        }

        func run() throws {
            if let dir { setenv("TMPDIR", dir, 1) }
            let size = UInt64(sizeMb) * 1_048_576
            let hq = try benchNode("hq"), traffic = try benchNode("traffic")
            defer { hq.close(); traffic.close() }
            if let sendMbS {
                for n in [hq, traffic] {
                    var config = try n.dir.loadConfig()
                    config.files.sendMBps = sendMbS
                    try n.dir.saveConfig(config)
                    try n.restart()
                }
            }
            try hq.peer(with: traffic)
            let alice = try hq.join("alice"), carol = try hq.join("carol")
            let wu = try traffic.join("wu"), dave = try traffic.join("dave")
            let sender = try Client(profile: alice), receiver = try Client(profile: wu)
            defer { sender.close(); receiver.close() }
            sender.timeoutMs = 60_000
            receiver.timeoutMs = 60_000
            try waitUntilKnown(sender, "wu@traffic", timeout: 30)
            try waitUntilKnown(receiver, "alice@hq", timeout: 30)
            let chatProbe = try Client(profile: carol)
            try waitUntilKnown(chatProbe, "dave@traffic", timeout: 30)
            chatProbe.close()

            let source = hq.root + "/payload.bin"
            try writePayload(source, size: size)
            let baseline = peakMB()

            let chat = ChatProbe(sender: carol, receiver: dave, to: Address("dave@traffic")!, rate: chatRate)
            chat.start()
            if transferNice != 0 { setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, transferNice) } // this thread only (Linux)

            let t0 = Clock.monotonicNs()
            let sent = try sender.sendFile(to: Address("wu@traffic")!, path: source, uploads: UploadBook(profilePath: hq.root + "/alice.profile"))
            let t1 = Clock.monotonicNs()
            let peakUpload = peakMB()
            let uploadLatencies = chat.take()
            // The pull started when traffic delivered the offer; it is done when traffic holds the whole file.
            try traffic.waitFor("traffic to hold the whole file", timeout: 3600, every: 0.02) {
                ($0.files.complete) >= 1
            }
            let t2 = Clock.monotonicNs()
            let peakPull = peakMB()
            let pullLatencies = chat.take()
            let manifest = try offer(receiver, fileId: sent.fileId)
            let out = traffic.root + "/received.bin"
            // Every copy is on this one disk: let traffic's copy reach it before the download is timed.
            sync()
            let t3 = Clock.monotonicNs()
            _ = try receiver.fetchFile(manifest, to: out)
            let t4 = Clock.monotonicNs()
            let peakDownload = peakMB()
            let downloadLatencies = chat.take()
            chat.stop()
            let same = try sameContent(source, out)
            unlink(out)
            unlink(source)

            func mbps(_ a: UInt64, _ b: UInt64) -> Double { (Double(size) / 1e6 / (Double(b - a) / 1e9) * 10).rounded() / 10 }
            let all = uploadLatencies + pullLatencies + downloadLatencies
            let result: [String: Any] = [
                "size_bytes": size, "verified": same,
                "upload_mb_s": mbps(t0, t1), "node_to_node_mb_s": mbps(t1, t2), "download_mb_s": mbps(t3, t4),
                "upload_s": Double(t1 - t0) / 1e9, "node_to_node_s": Double(t2 - t1) / 1e9, "download_s": Double(t4 - t3) / 1e9,
                "peak_rss_mb": peakDownload, "rss_before_transfer_mb": baseline,
                "peak_rss_mb_after_upload": peakUpload, "peak_rss_mb_after_node_to_node": peakPull,
                "chat_messages": all.count, "chat_rate": chatRate,
                "chat_p50_ms": percentileMs(all, 0.5), "chat_p99_ms": percentileMs(all, 0.99), "chat_max_ms": percentileMs(all, 1),
                "chat_p99_ms_upload": percentileMs(uploadLatencies, 0.99), "chat_p99_ms_node_to_node": percentileMs(pullLatencies, 0.99),
                "chat_p99_ms_download": percentileMs(downloadLatencies, 0.99), "chat_lost": chat.sent - chat.received,
                "transfer_nice": transferNice, "send_mb_s": sendMbS ?? FilesConfig().sendMBps,
            ]
            if json {
                let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("""
                    files: \(sizeMb) MiB from alice@hq to wu@traffic (\(same ? "content verified" : "CONTENT DIFFERS"))
                      upload        \(result["upload_mb_s"]!) MB/s  (\(String(format: "%.2f", Double(t1 - t0) / 1e9)) s)
                      node to node  \(result["node_to_node_mb_s"]!) MB/s  (\(String(format: "%.2f", Double(t2 - t1) / 1e9)) s)
                      download      \(result["download_mb_s"]!) MB/s  (\(String(format: "%.2f", Double(t4 - t3) / 1e9)) s)
                      peak RSS      \(result["peak_rss_mb"]!) MB for the whole process (both nodes, four clients); \(baseline) MB before the transfer, \(peakUpload) MB after the upload, \(peakPull) MB after the copy to traffic
                      chat          \(all.count) texts at \(Int(chatRate))/s: p50 \(result["chat_p50_ms"]!) ms  p99 \(result["chat_p99_ms"]!) ms  max \(result["chat_max_ms"]!) ms; lost \(chat.sent - chat.received)
                                    p99 during upload \(result["chat_p99_ms_upload"]!) ms, node to node \(result["chat_p99_ms_node_to_node"]!) ms, download \(result["chat_p99_ms_download"]!) ms
                    """)
            }
        }

        /// Writes `size` bytes that do not compress (one random MiB, varied per MiB).
        func writePayload(_ path: String, size: UInt64) throws {
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            guard fd >= 0 else { throw ClientError.io("cannot write \(path)") }
            defer { close(fd) }
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            var block = [UInt8](repeating: 0, count: 1 << 20)
            for i in block.indices {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                block[i] = UInt8(truncatingIfNeeded: state)
            }
            var left = size
            while left > 0 {
                let n = Int(min(left, UInt64(block.count)))
                _ = block.withUnsafeBytes { write(fd, $0.baseAddress!, n) }
                block[Int(left % 1000)] &+= 1
                left -= UInt64(n)
            }
            fsync(fd)
        }

        func offer(_ client: Client, fileId: FileID) throws -> FileManifest {
            try client.attach()
            let deadline = Clock.monotonicNs() + 30_000_000_000
            while Clock.monotonicNs() < deadline {
                guard let event = try client.next(timeoutMs: 100) else { continue }
                if case .message(let m) = event {
                    try client.ack(m.seq)
                    if let f = m.file, f.fileId == fileId {
                        try client.detach()
                        return f
                    }
                }
            }
            throw ClientError.unreachable("the file offer never arrived")
        }

        func sameContent(_ a: String, _ b: String) throws -> Bool {
            guard let ha = FileHandle(forReadingAtPath: a), let hb = FileHandle(forReadingAtPath: b) else { return false }
            defer { try? ha.close(); try? hb.close() }
            while true {
                let x = try ha.read(upToCount: 1 << 20) ?? Data(), y = try hb.read(upToCount: 1 << 20) ?? Data()
                if x != y { return false }
                if x.isEmpty { return true }
            }
        }

        /// The latency at `p` of `values` (ns), ms with two decimals.
        func percentileMs(_ values: [UInt64], _ p: Double) -> Double {
            (Double(percentile(values, p)) / 1e4).rounded() / 100
        }
    }
}

/// Peak resident memory of this process so far, MB (VmHWM).
func peakMB() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
}

/// Texts from one user to another at a steady rate on their own threads, each
/// carrying its send time; the receiver records the one-way latency.
final class ChatProbe: Sendable {
    private let senderProfile: Profile
    private let receiverProfile: Profile
    private let to: Address
    private let rate: Double
    private let stopFlag = Atomic<Bool>(false)
    private let latencies = Mutex<[UInt64]>([])
    private let counts = Mutex<(sent: Int, received: Int)>((0, 0))
    private let done = DispatchSemaphore(value: 0)

    init(sender: Profile, receiver: Profile, to: Address, rate: Double) {
        senderProfile = sender
        receiverProfile = receiver
        self.to = to
        self.rate = rate
    }

    var sent: Int { counts.withLock { $0.sent } }
    var received: Int { counts.withLock { $0.received } }

    func start() {
        let ready = DispatchSemaphore(value: 0)
        Thread { [self] in
            defer { done.signal() }
            guard let client = try? Client(profile: receiverProfile) else { ready.signal(); return }
            defer { client.close() }
            try? client.attach(window: 4096)
            while let event = try? client.next(timeoutMs: 5000) { if case .synced = event { break } }
            ready.signal()
            var lastSeq: UInt64 = 0
            while !stopFlag.load(ordering: .acquiring) || received < sent {
                guard let event = try? client.next(timeoutMs: 200) else {
                    if stopFlag.load(ordering: .acquiring) { break }
                    continue
                }
                guard case .message(let m) = event, let stamp = UInt64(m.text.prefix(while: { $0 != "|" })) else { continue }
                let now = Clock.monotonicNs()
                latencies.withLock { $0.append(now &- stamp) }
                counts.withLock { $0.received += 1 }
                if m.seq - lastSeq >= 100 { try? client.ack(m.seq); lastSeq = m.seq }
            }
        }.start()
        ready.wait()
        Thread { [self] in
            defer { done.signal() }
            guard let client = try? Client(profile: senderProfile) else { return }
            defer { client.close(lingerMs: 1000) }
            let interval = 1e9 / rate
            let start = Clock.monotonicNs()
            var i = 0
            while !stopFlag.load(ordering: .acquiring) {
                let due = start + UInt64(Double(i) * interval)
                let now = Clock.monotonicNs()
                if due > now { usleep(UInt32((due - now) / 1000)) }
                while (try? client.next(timeoutMs: 0)) != nil {}
                guard let envelope = try? client.prepareText(to: to, text: "\(Clock.monotonicNs())|chat during a file transfer") else { break }
                if (try? client.submit(envelope)) == true { counts.withLock { $0.sent += 1 } }
                i += 1
            }
        }.start()
    }

    /// The latencies recorded since the last call.
    func take() -> [UInt64] {
        latencies.withLock { l in
            defer { l.removeAll() }
            return l
        }
    }

    func stop() {
        usleep(200_000)
        stopFlag.store(true, ordering: .releasing)
        done.wait()
        done.wait()
    }
}
