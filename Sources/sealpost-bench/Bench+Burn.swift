import ArgumentParser
import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport

extension Bench {
    struct Burns: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "burn",
            abstract: "Views per second of burn messages on one node, with secure delete on and off.",
            discussion: """
                COUNT burn messages are sent to one recipient, who collects the notices and then views every one \
                through the real protocol (VIEW, deletion in the node's commit, a signed receipt for the sender, \
                the content opened and checked), WINDOW views in flight. Then PROBE views one at a time give the \
                latency of a single view. The whole run is repeated on a fresh node with SQLite's secure_delete \
                off (a setting only benchmarks can make), to show what zeroing deleted content costs.
                """)

        @Option(help: "Burn messages to send and view.") var count = 10_000
        @Option(help: "Text size in bytes.") var size = 256
        @Option(help: "Also attach one image of this many KiB to each (0: text only).") var imageKib = 0
        @Option(help: "Views in flight at once.") var window = 256
        @Option(help: "Views made one at a time, for latency.") var probe = 500
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            guard count > 0, probe >= 0, window > 0 else { throw ValidationError("--count and --window must be positive") }
            guard (1...Sealed.maxTextBytes).contains(size) else { throw ValidationError("--size must be 1...65536") }
            guard imageKib * 1024 <= Burn.maxImageBytes else { throw ValidationError("--image-kib must be at most 2048") }
        }

        struct Run {
            var viewsPerS: Double
            var sendPerS: Double
            var p50Us: Double
            var p99Us: Double
            var dbBytes: Int
        }

        func measure(secureDelete: Bool) throws -> Run {
            let hq = try benchNode("bench", configure: { $0.secureDelete = secureDelete })
            defer { hq.close() }
            let sender = try Client(profile: try hq.join("alice"))
            let viewer = try Client(profile: try hq.join("bob"))
            defer { sender.close(); viewer.close() }
            let to = Address("bob@bench")!
            _ = try sender.lookup(to)
            let text = String(repeating: "x", count: size)
            var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8) + [0, 0, 4, 0, 0, 0, 3, 0]
            png += (0..<max(0, imageKib * 1024 - png.count)).map { UInt8(truncatingIfNeeded: $0 &* 131) }
            let images = imageKib > 0 ? [Burn.Image(name: "photo.png", data: png)] : []

            // Send them all, pipelined.
            let total = count + probe
            var ids: [MessageID] = []
            var inFlight = 0
            let t0 = Clock.monotonicNs()
            for _ in 0..<total {
                let envelope = try sender.prepareBurn(to: to, text: text, images: images, ttlMs: 3_600_000)
                ids.append(envelope.id)
                while inFlight >= 1000, let e = try sender.next(timeoutMs: 10_000) { if case .stored = e { inFlight -= 1 } }
                while try !sender.submit(envelope) { if case .stored? = try sender.next(timeoutMs: 100) { inFlight -= 1 } }
                inFlight += 1
            }
            while inFlight > 0, let e = try sender.next(timeoutMs: 30_000) { if case .stored = e { inFlight -= 1 } }
            let sendPerS = Double(total) / (Double(Clock.monotonicNs() - t0) / 1e9)

            // The recipient takes the notices off its mailbox.
            try viewer.attach(window: 4096)
            var notices = 0, sinceAck = 0
            while notices < total, let e = try viewer.next(timeoutMs: 30_000) {
                if case .message(let m) = e, m.burn != nil {
                    notices += 1
                    sinceAck += 1
                    if sinceAck >= 1000 || notices == total { try viewer.ack(m.seq); sinceAck = 0 }
                }
            }
            try viewer.detach()
            try viewer.flush()
            guard notices == total else { throw ValidationError("only \(notices) of \(total) notices arrived") }

            // Views, WINDOW in flight (the sender's key fetched first: a lookup would hold replies back).
            _ = try viewer.lookup(Address("alice@bench")!)
            let t1 = Clock.monotonicNs()
            var next = 0, done = 0, pending = 0
            while done < count {
                while pending < window, next < count {
                    try viewer.connection.send(.view(id: ids[next]))
                    next += 1
                    pending += 1
                }
                guard let reply = try viewer.connection.receive(timeoutMs: 30_000) else { throw ValidationError("a view was not answered (\(done) of \(count) done, \(pending) waiting)") }
                switch reply {
                case .viewing(let envelope):
                    let opened = try viewer.openBurn(envelope)
                    guard opened.text.utf8.count == size else { throw ValidationError("a view came back wrong") }
                    done += 1
                    pending -= 1
                case .error(_, _, let reason):
                    throw ValidationError("a view was refused: \(reason)")
                default:
                    break
                }
            }
            let viewsPerS = Double(count) / (Double(Clock.monotonicNs() - t1) / 1e9)

            // One at a time.
            var latencies: [UInt64] = []
            for id in ids[count...] {
                let start = Clock.monotonicNs()
                _ = try viewer.view(id)
                latencies.append(Clock.monotonicNs() - start)
            }
            func pct(_ p: Double) -> Double { Double(percentile(latencies, p)) / 1000 }
            let db = ((try? FileManager.default.attributesOfItem(atPath: hq.dir.databasePath))?[.size] as? NSNumber)?.intValue ?? 0
            return Run(viewsPerS: viewsPerS, sendPerS: sendPerS, p50Us: pct(0.5), p99Us: pct(0.99), dbBytes: db)
        }

        func run() throws {
            let secure = try measure(secureDelete: true)
            let plain = try measure(secureDelete: false)
            let cost = (plain.viewsPerS / secure.viewsPerS - 1) * 100
            if json {
                let object: [String: Any] = [
                    "count": count, "size": size, "image_kib": imageKib, "window": window, "probe": probe,
                    "secure_views_per_s": secure.viewsPerS.rounded(), "plain_views_per_s": plain.viewsPerS.rounded(),
                    "secure_send_per_s": secure.sendPerS.rounded(), "plain_send_per_s": plain.sendPerS.rounded(),
                    "secure_view_p50_us": secure.p50Us.rounded(), "secure_view_p99_us": secure.p99Us.rounded(),
                    "plain_view_p50_us": plain.p50Us.rounded(), "plain_view_p99_us": plain.p99Us.rounded(),
                    "secure_delete_cost_percent": (cost * 10).rounded() / 10,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("""
                    burn: \(count) burn messages of \(size) bytes\(imageKib > 0 ? " + one \(imageKib) KiB image" : ""), \(window) views in flight
                      secure_delete on   \(Int(secure.viewsPerS)) views/s; one view p50 \(Int(secure.p50Us)) µs, p99 \(Int(secure.p99Us)) µs; sent \(Int(secure.sendPerS))/s
                      secure_delete off  \(Int(plain.viewsPerS)) views/s; one view p50 \(Int(plain.p50Us)) µs, p99 \(Int(plain.p99Us)) µs; sent \(Int(plain.sendPerS))/s
                      cost of secure delete: \(String(format: "%.1f", cost)) % fewer views per second
                    """)
            }
        }
    }
}
