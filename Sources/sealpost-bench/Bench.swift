import ArgumentParser
import Dispatch
import Foundation
import Logging
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Synchronization

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealpost-bench",
        abstract: "Benchmarks with real nodes and clients on loopback (CURVE, end-to-end crypto, durable SQLite).",
        subcommands: [Local.self, Federation.self, RawChain.self, Reminders.self, Burns.self, Files.self, Audit.self, Forwards.self, Labels.self]
    )
}

struct LoadOptions: ParsableArguments {
    @Option(help: "Messages to send.") var messages = 100_000
    @Option(help: "Text size in bytes (at least 24).") var size = 256
    @Option(help: "Pace the sender at this many messages per second (for latency); full speed when absent.") var rate: Double?
    @Option(help: "Unacknowledged sends the sender keeps in flight at full speed.") var window = 4000
    @Flag(help: """
        Seal every text before the clock starts and let the receiver take deliveries without opening them: \
        the nodes' path (storage, relay, delivery) without the two clients' end-to-end crypto (sealing and \
        signing a text took 39.9 µs here in `sealpost-bench forward`; opening and checking them took about \
        a third of a federation run's CPU in perf).
        """) var presealed = false
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard messages > 0 else { throw ValidationError("--messages must be positive") }
        guard (24...Sealed.maxTextBytes).contains(size) else { throw ValidationError("--size must be 24...65536") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
    }
}

/// What one run measured.
struct BenchResult {
    var messages: Int
    var received: Int
    var duplicates: Int
    var lost: Int
    var seconds: Double
    var latenciesNs: [UInt64]

    /// The one-way latency at `p`, µs.
    func percentile(_ p: Double) -> Double { Double(SealpostTestSupport.percentile(latenciesNs, p)) / 1000 }

    func report(mode: String, size: Int, rate: Double?, json: Bool, extra: [String: Any] = [:]) {
        let msgsPerS = Double(received) / seconds
        if json {
            var object: [String: Any] = [
                "mode": mode, "messages": messages, "size": size, "rate": rate ?? 0, "received": received,
                "lost": lost, "duplicates": duplicates, "seconds": (seconds * 1000).rounded() / 1000,
                "msgs_per_s": msgsPerS.rounded(), "p50_us": percentile(0.50).rounded(),
                "p90_us": percentile(0.90).rounded(), "p99_us": percentile(0.99).rounded(),
                "max_us": percentile(1.0).rounded(),
            ]
            object.merge(extra) { $1 }
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("""
                \(mode): \(messages) messages of \(size) bytes\(rate.map { " at \(Int($0))/s" } ?? " at full speed")
                  throughput  \(Int(msgsPerS)) msgs/s (\(String(format: "%.2f", seconds)) s)
                  one-way     p50 \(Int(percentile(0.5))) µs  p90 \(Int(percentile(0.9))) µs  p99 \(Int(percentile(0.99))) µs  max \(Int(percentile(1))) µs
                  lost        \(lost)   duplicates \(duplicates)
                """)
            if let calls = extra["status_calls"] as? Int, let p50 = extra["status_p50_ms"] as? Double, let max = extra["status_max_ms"] as? Double {
                print("  status      \(calls) calls during the run: p50 \(String(format: "%.1f", p50)) ms, max \(String(format: "%.1f", max)) ms")
            }
            for name in ["hq", "traffic"] {
                guard let c = extra["\(name)_cycles"] as? [String: Any], let p50 = c["p50_ms"] as? Double, let p99 = c["p99_ms"] as? Double,
                      let slowest = c["slowest_ms"] as? Double else { continue }
                print("  \(name) cycles  p50 \(String(format: "%.2f", p50)) ms, p99 \(String(format: "%.2f", p99)) ms, slowest \(String(format: "%.1f", slowest)) ms, CPU \(String(format: "%.1f", c["slowest_cpu_ms"] as? Double ?? 0)) ms, \(c["slowest_blocks"] ?? 0) waits, \(c["slowest_preemptions"] ?? 0) preemptions (\(c["phase"] ?? "") \(String(format: "%.1f", c["phase_ms"] as? Double ?? 0)) ms)")
            }
            if let raw = extra["raw_chain_msgs_per_s"] as? Double, let ratio = extra["ratio_to_raw_chain"] as? Double {
                print("  raw chain   \(Int(raw)) msgs/s in the same run (c1 → A → B → c2, CURVE): ratio \(ratio)")
            }
        }
    }
}

/// A started node in a temp directory for a benchmark: warnings logged, and no rate
/// limit or mailbox quota in the way (one sender streams as fast as it can).
func benchNode(_ name: String, configure: @escaping @Sendable (inout NodeConfig) -> Void = { _ in }) throws -> TestNode {
    var logger = Logger(label: "bench.node")
    logger.logLevel = .warning
    let node = try TestNode(name: name, prefix: "sealpost-bench", logger: logger) { $0.limits = .unmetered }
    node.timers = .standard // measured as deployed
    try node.start(configure: configure)
    return node
}

/// Resident memory of this process, MB (from /proc/self/status).
func residentMB() -> Int { memoryMB(pid: nil).total }

/// Resident memory of a process (this one when `pid` is nil), MB: in all, its anonymous
/// part (heap: what the program holds) and its file-backed part (pages of mapped files,
/// e.g. SQLite's mmap of the database, which the kernel may drop at any time).
func memoryMB(pid: Int32?) -> (total: Int, anon: Int, file: Int) {
    guard let text = try? String(contentsOfFile: "/proc/\(pid.map(String.init) ?? "self")/status", encoding: .utf8) else { return (0, 0, 0) }
    func field(_ name: String) -> Int {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
    return (field("VmRSS"), field("RssAnon"), field("RssFile") + field("RssShmem"))
}

/// Runs sender → node(s) → receiver and measures it.
/// The sender writes its monotonic send time into each text; the receiver decrypts
/// and subtracts (one process, one clock).
func runLoad(sender senderProfile: Profile, receiver receiverProfile: Profile, to: Address, options: LoadOptions) throws -> BenchResult {
    let n = options.messages
    let receiverReady = DispatchSemaphore(value: 0)
    let receiverDone = DispatchSemaphore(value: 0)
    let outcome = Mutex<(latencies: [UInt64], arrivals: [(MessageID, UInt64)], received: Int, duplicates: Int, lastNs: UInt64, error: String?)>(
        ([], [], 0, 0, 0, nil))

    let receiverThread = Thread {
        do {
            let client = try Client(profile: receiverProfile)
            defer { client.close() }
            client.opensDeliveries = !options.presealed
            try client.attach(window: 4096)
            // Wait until the node confirmed the attach before the sender starts.
            while let event = try client.next(timeoutMs: 5000) { if case .synced = event { break } }
            receiverReady.signal()
            var seen = Set<MessageID>()
            seen.reserveCapacity(n)
            var latencies: [UInt64] = []
            latencies.reserveCapacity(n)
            var arrivals: [(MessageID, UInt64)] = []
            if options.presealed { arrivals.reserveCapacity(n) }
            var duplicates = 0
            var sinceAck = 0
            var lastSeq: UInt64 = 0
            var idle = 0
            while seen.count < n {
                guard let event = try client.next(timeoutMs: 1000) else {
                    idle += 1
                    if idle >= 15 { break }
                    continue
                }
                idle = 0
                guard case .message(let m) = event else { continue }
                let now = Clock.monotonicNs()
                lastSeq = m.seq
                if seen.insert(m.id).inserted {
                    if options.presealed {
                        arrivals.append((m.id, now))
                    } else if let stamp = UInt64(m.text.prefix(while: { $0 != "|" })) {
                        latencies.append(now &- stamp)
                    }
                } else {
                    duplicates += 1
                }
                sinceAck += 1
                if sinceAck >= 1000 { try client.ack(lastSeq); sinceAck = 0 }
            }
            if lastSeq > 0 { try client.ack(lastSeq); try client.flush() }
            let end = Clock.monotonicNs()
            outcome.withLock { $0 = (latencies, arrivals, seen.count, duplicates, end, nil) }
        } catch {
            outcome.withLock { $0.error = "\(error)" }
            receiverReady.signal()
        }
        receiverDone.signal()
    }
    receiverThread.start()
    receiverReady.wait()
    if let error = outcome.withLock({ $0.error }) { throw ClientError.protocolError("receiver: \(error)") }

    let sender = try Client(profile: senderProfile)
    defer { sender.close() }
    _ = try sender.lookup(to)
    let padding = String(repeating: "x", count: options.size)
    /// `stamp|xxx…`, `options.size` bytes in all.
    func stamped(_ stamp: String) -> String {
        let head = stamp + "|"
        return head + padding.utf8.dropFirst(head.utf8.count).withContiguousStorageIfAvailable { String(decoding: $0, as: UTF8.self) }!
    }
    // --presealed: every envelope sealed (and its origin signed) before the clock starts; the
    // send time of each is kept here instead of in its text.
    var presealed: [Envelope] = []
    var sentNs: [MessageID: UInt64] = [:]
    if options.presealed {
        presealed.reserveCapacity(n)
        sentNs.reserveCapacity(n)
        for i in 0..<n {
            presealed.append(try sender.prepareText(to: to, text: stamped(String(i))))
        }
    }
    let start = Clock.monotonicNs()
    var inFlight = 0
    var stored = 0
    let interval = options.rate.map { 1e9 / $0 }
    for i in 0..<n {
        if let interval {
            let due = start + UInt64(Double(i) * interval)
            while Clock.monotonicNs() < due {
                let left = Int64(due) - Int64(Clock.monotonicNs())
                if left > 200_000 { usleep(UInt32(left / 1000 - 100)) }
            }
        }
        while inFlight >= options.window, let event = try sender.next(timeoutMs: 5000) {
            if case .stored = event { inFlight -= 1; stored += 1 }
        }
        // Drain acknowledgements without blocking.
        while let event = try sender.next(timeoutMs: 0) {
            if case .stored = event { inFlight -= 1; stored += 1 }
        }
        let envelope: Envelope
        if options.presealed {
            envelope = presealed[i]
            sentNs[envelope.id] = Clock.monotonicNs()
        } else {
            envelope = try sender.prepareText(to: to, text: stamped(String(Clock.monotonicNs())))
        }
        while try !sender.submit(envelope) {
            if let event = try sender.next(timeoutMs: 100), case .stored = event { inFlight -= 1; stored += 1 }
        }
        inFlight += 1
    }
    while stored < n, let event = try sender.next(timeoutMs: 10_000) {
        if case .stored = event { stored += 1 }
    }
    receiverDone.wait()
    let result = outcome.withLock { $0 }
    if let error = result.error { throw ClientError.protocolError("receiver: \(error)") }
    var latencies = result.latencies
    if options.presealed {
        latencies = result.arrivals.compactMap { id, at in sentNs[id].map { at &- $0 } }
    }
    return BenchResult(messages: n, received: result.received, duplicates: result.duplicates,
                       lost: n - result.received, seconds: Double(result.lastNs - start) / 1e9,
                       latenciesNs: latencies)
}

extension Bench {
    struct Federation: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Two peered nodes: sender on one, recipient on the other; every envelope committed on both before it counts.",
            discussion: "Also measures how long `status` takes to answer on the sender's node while the load runs.")

        @OptionGroup var options: LoadOptions
        @Option(help: "relay_retention_hours of both nodes (0 keeps nothing after RELAYED), to measure what retention costs.")
        var relayRetentionHours = 24
        @Flag(help: "Then run raw-chain with the same messages and size, and print the ratio (Sealpost / transport).")
        var withRawChain = false

        @Flag(help: "Run each node as its own sealpost-node process, as deployed (the binary beside this one), instead of in this process.")
        var processes = false

        func run() throws {
            let hours = relayRetentionHours
            let dir: DataDir, otherDir: DataDir
            let alice: Profile, wu: Profile
            var close: () -> Void
            if processes {
                let hq = try ProcessNode(name: "hq") { $0.relayRetentionHours = hours }
                let traffic = try ProcessNode(name: "traffic") { $0.relayRetentionHours = hours }
                try hq.peer(with: traffic)
                try hq.start(); try traffic.start()
                alice = try hq.join("alice")
                wu = try traffic.join("wu")
                dir = hq.dir
                otherDir = traffic.dir
                close = { hq.close(); traffic.close() }
            } else {
                let hq = try benchNode("hq") { $0.relayRetentionHours = hours }
                let traffic = try benchNode("traffic") { $0.relayRetentionHours = hours }
                try hq.peer(with: traffic)
                alice = try hq.join("alice")
                wu = try traffic.join("wu")
                dir = hq.dir
                otherDir = traffic.dir
                close = { hq.close(); traffic.close() }
            }
            defer { close() }
            // Wait until the directory crossed over.
            let probe = try Client(profile: alice)
            try waitUntilKnown(probe, "wu@traffic", timeout: 30)
            probe.close()
            let probeW = try Client(profile: wu)
            try waitUntilKnown(probeW, "alice@hq", timeout: 30)
            probeW.close()

            // Operator's status calls during the run, from another thread.
            let statusTimes = Mutex<[UInt64]>([])
            let stop = Atomic<Bool>(false)
            let poller = Thread {
                while !stop.load(ordering: .acquiring) {
                    let t0 = Clock.monotonicNs()
                    if (try? AdminClient.status(dataDir: dir)) != nil {
                        let dt = Clock.monotonicNs() - t0
                        statusTimes.withLock { $0.append(dt) }
                    }
                    usleep(100_000)
                }
            }
            poller.start()
            let result = try runLoad(sender: alice, receiver: wu, to: Address("wu@traffic")!, options: options)
            stop.store(true, ordering: .releasing)
            usleep(200_000)
            // Each node's slowest recent reactor cycle and the phase that took longest in it.
            let cycles = [("hq", dir), ("traffic", otherDir)].compactMap { name, d in (try? AdminClient.status(dataDir: d)).map { (name, $0.cycles) } }
            let times = statusTimes.withLock { $0 }.sorted()
            var extra: [String: Any] = times.isEmpty ? [:] : [
                "status_calls": times.count,
                "status_p50_ms": Double(percentile(times, 0.5)) / 1e6,
                "status_p99_ms": Double(percentile(times, 0.99)) / 1e6,
                "status_max_ms": Double(times.last!) / 1e6,
            ]
            for (name, c) in cycles {
                extra["\(name)_cycles"] = ["p50_ms": c.p50Ms, "p99_ms": c.p99Ms, "slowest_ms": c.slowestMs, "slowest_cpu_ms": c.slowestCPUMs, "slowest_blocks": c.slowestBlocks, "slowest_preemptions": c.slowestPreemptions,
                                           "phase": c.phase ?? "", "phase_ms": c.phaseMs, "recent": c.recent] as [String: Any]
            }
            if withRawChain {
                close()
                close = {}
                let raw = try runRawChain(messages: options.messages, size: options.size)
                extra["raw_chain_msgs_per_s"] = raw.msgsPerS.rounded()
                extra["ratio_to_raw_chain"] = ((Double(result.received) / result.seconds) / raw.msgsPerS * 1000).rounded() / 1000
            }
            result.report(mode: (processes ? "federation-processes" : "federation") + (options.presealed ? "-presealed" : ""), size: options.size, rate: options.rate, json: options.json, extra: extra)
        }
    }

    struct Reminders: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Schedule many reminders on one node; report scheduling rate, memory, restart time and firing accuracy.",
            discussion: """
                COUNT reminders are set through the real protocol (sealed, stored, scheduled), due an hour ahead, \
                so they stay pending; then the node restarts with all of them pending; then --probe reminders due \
                over the next few seconds fire while the rest wait, and their lateness (fired - due, on the node) is reported.
                """)

        @Option(help: "Reminders to keep pending.") var count = 100_000
        @Option(help: "Reminders that fire during the measurement.") var probe = 2_000
        @Flag(help: "Print one JSON object.") var json = false
        @Flag(help: "Run the node as its own sealpost-node process (the binary beside this one) and measure that process's memory alone, not this benchmark's clients with it.")
        var processes = false

        func run() throws {
            let alice: Profile, bob: Profile
            let restart: () throws -> (stopMs: Double, startMs: Double)
            let memory: () -> (total: Int, anon: Int, file: Int)
            let closeNode: () -> Void
            if processes {
                let hq = try ProcessNode(name: "bench") { _ in }
                try hq.start()
                alice = try hq.join("alice")
                bob = try hq.join("bob")
                restart = { try hq.restart() }
                memory = { hq.pid.map { memoryMB(pid: $0) } ?? (0, 0, 0) }
                closeNode = { hq.close() }
            } else {
                let hq = try benchNode("bench")
                alice = try hq.join("alice")
                bob = try hq.join("bob")
                restart = { try hq.restart() }
                memory = { memoryMB(pid: nil) }
                closeNode = { hq.close() }
            }
            defer { closeNode() }
            let me = Address("bob@bench")!
            let sender = try Client(profile: alice)
            _ = try sender.lookup(me)

            func setMany(_ n: Int, due: (Int) -> UInt64) throws {
                var inFlight = 0, stored = 0
                for i in 0..<n {
                    let env = try sender.prepareReminder(to: me, at: due(i), text: "r\(i)")
                    while inFlight >= 4000, let e = try sender.next(timeoutMs: 10_000) { if case .stored = e { inFlight -= 1; stored += 1 } }
                    while try !sender.submit(env) { if case .stored? = try sender.next(timeoutMs: 100) { inFlight -= 1; stored += 1 } }
                    inFlight += 1
                    if i % 100_000 == 99_999 && !json { print("  \(i + 1) set…"); fflush(nil) }
                }
                while stored < n, let e = try sender.next(timeoutMs: 30_000) { if case .stored = e { stored += 1 } }
            }

            let hour = Clock.nowMs() + 3_600_000
            let t0 = Clock.monotonicNs()
            try setMany(count) { hour + UInt64($0 % 600_000) }
            let setSeconds = Double(Clock.monotonicNs() - t0) / 1e9
            sender.close()
            let memoryAfterSet = memory()
            let rssAfterSet = memoryAfterSet.total

            let (stopMs, startMs) = try restart()
            let restartMs = stopMs + startMs
            let memoryAfterRestart = memory()
            let rssAfterRestart = memoryAfterRestart.total

            // Probe: reminders due over the next few seconds while `count` wait.
            let probeClient = try Client(profile: alice)
            defer { probeClient.close() }
            _ = try probeClient.lookup(me)
            let start = Clock.nowMs() + 3000
            var inFlight = 0, stored = 0
            for i in 0..<probe {
                let env = try probeClient.prepareReminder(to: me, at: start + UInt64(i * 5000 / max(probe, 1)), text: "p\(i)")
                while try !probeClient.submit(env) { if case .stored? = try probeClient.next(timeoutMs: 100) { inFlight -= 1; stored += 1 } }
                inFlight += 1
            }
            while stored < probe, let e = try probeClient.next(timeoutMs: 30_000) { if case .stored = e { stored += 1 } }

            // The recipient reads its due notices (its mailbox also holds every reminder itself).
            let receiver = try Client(profile: bob)
            defer { receiver.close() }
            try receiver.attach(window: 4096)
            var lateness: [UInt64] = []
            var sinceAck = 0
            let deadline = Clock.monotonicNs() + 120_000_000_000
            while lateness.count < probe, Clock.monotonicNs() < deadline {
                guard let event = try receiver.next(timeoutMs: 1000) else { continue }
                if case .message(let m) = event {
                    if m.kind == .reminderDue, let r = m.reminder, let fired = r.firedAt { lateness.append(fired - r.dueAt) }
                    sinceAck += 1
                    if sinceAck >= 1000 { try receiver.ack(m.seq); sinceAck = 0 }
                }
            }
            lateness.sort()
            func pct(_ p: Double) -> UInt64 { percentile(lateness, p) }
            let result: [String: Any] = [
                "pending": count, "set_per_s": Int(Double(count) / setSeconds), "rss_mb_after_set": rssAfterSet,
                "restart_ms": Int(restartMs), "stop_ms": Int(stopMs), "start_ms": Int(startMs), "rss_mb_after_restart": rssAfterRestart,
                "anon_mb_after_set": memoryAfterSet.anon, "anon_mb_after_restart": memoryAfterRestart.anon,
                "file_mb_after_set": memoryAfterSet.file, "file_mb_after_restart": memoryAfterRestart.file,
                "probe": probe, "fired": lateness.count, "processes": processes,
                "lateness_p50_ms": pct(0.5), "lateness_p99_ms": pct(0.99), "lateness_max_ms": lateness.last ?? 0,
            ]
            if json {
                let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("""
                    reminders: \(count) pending
                      set         \(Int(Double(count) / setSeconds)) reminders/s (sealed, stored, scheduled)
                      memory      \(rssAfterSet) MB resident after setting, \(rssAfterRestart) MB after the restart (\(processes ? "the node process alone" : "whole bench process"))
                      of which    heap \(memoryAfterSet.anon) → \(memoryAfterRestart.anon) MB, mapped files \(memoryAfterSet.file) → \(memoryAfterRestart.file) MB
                      restart     \(Int(restartMs)) ms with all of them pending (stop \(Int(stopMs)) ms, start \(Int(startMs)) ms)
                      firing      \(lateness.count)/\(probe) due notices; lateness p50 \(pct(0.5)) ms, p99 \(pct(0.99)) ms, max \(lateness.last ?? 0) ms
                    """)
            }
        }
    }

    struct Local: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One node: sender → node → recipient, every envelope committed before it is acknowledged.")

        @OptionGroup var options: LoadOptions

        func run() throws {
            let hq = try benchNode("bench")
            defer { hq.close() }
            let alice = try hq.join("alice")
            let bob = try hq.join("bob")
            let result = try runLoad(sender: alice, receiver: bob, to: Address("bob@bench")!, options: options)
            result.report(mode: "local" + (options.presealed ? "-presealed" : ""), size: options.size, rate: options.rate, json: options.json)
        }
    }
}
