import ArgumentParser
import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport

extension Bench {
    struct Forwards: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "forward",
            abstract: "The cost of forwarding on the send path: texts without and with a signed origin, and forwards with a chain.",
            discussion: """
                On one node, COUNT texts of SIZE bytes go from alice to carol, pipelined, three ways: without an origin \
                record (as before forwarding existed), with one (what every text carries now: one Ed25519 signature \
                and about 300 bytes more), and as forwards of a message already forwarded HOPS - 1 times (the client \
                signs a hop and seals; the node verifies every signature of the chain, checks the policy, records the \
                recipient of the hop and appends two audit records, and the recipient's node one more). For each: the \
                client's time to prepare one envelope, and the node's throughput until every STORED came back.
                """)

        @Option(help: "Envelopes per way.") var count = 5_000
        @Option(help: "Text size in bytes.") var size = 256
        @Option(help: "Hops of each measured forward (1-10).") var hops = 5
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            guard count > 0 else { throw ValidationError("--count must be positive") }
            guard (1...Sealed.maxTextBytes).contains(size) else { throw ValidationError("--size must be 1...65536") }
            guard (1...10).contains(hops) else { throw ValidationError("--hops must be 1...10") }
        }

        struct Way {
            var name: String
            var prepareUs: Double
            var perS: Double
            var bodyBytes: Int
        }

        /// Prepares `count` envelopes with `make`, then sends them pipelined and waits for every STORED.
        func measure(_ name: String, _ client: Client, _ make: () throws -> Envelope) throws -> Way {
            let t0 = Clock.monotonicNs()
            var envelopes: [Envelope] = []
            envelopes.reserveCapacity(count)
            for _ in 0..<count { envelopes.append(try make()) }
            let prepareUs = Double(Clock.monotonicNs() - t0) / 1e3 / Double(count)
            let t1 = Clock.monotonicNs()
            var inFlight = 0
            for e in envelopes {
                while inFlight >= 1000, let ev = try client.next(timeoutMs: 10_000) { if case .stored = ev { inFlight -= 1 } }
                while try !client.submit(e) { if case .stored? = try client.next(timeoutMs: 100) { inFlight -= 1 } }
                inFlight += 1
            }
            while inFlight > 0, let ev = try client.next(timeoutMs: 30_000) {
                switch ev {
                case .stored: inFlight -= 1
                case .refused(let code, _, let reason): throw ClientError.refused(code: code, reason: reason)
                default: break
                }
            }
            let perS = Double(count) / (Double(Clock.monotonicNs() - t1) / 1e9)
            return Way(name: name, prepareUs: prepareUs, perS: perS, bodyBytes: envelopes.first?.body.count ?? 0)
        }

        func run() throws {
            let hq = try benchNode("bench") { $0.forwarding.maxHops = 64 }
            defer { hq.close() }
            let alice = try Client(profile: try hq.join("alice"))
            let bob = try Client(profile: try hq.join("bob"))
            let carol = try Client(profile: try hq.join("carol"))
            defer { alice.close(); bob.close(); carol.close() }
            let toBob = Address("bob@bench")!, toAlice = Address("alice@bench")!, toCarol = Address("carol@bench")!
            _ = try alice.lookup(toBob)
            _ = try alice.lookup(toCarol)
            _ = try bob.lookup(toAlice)
            let text = String(repeating: "x", count: size)

            alice.signsOrigins = false
            let plain = try measure("text without origin", alice) { try alice.prepareText(to: toCarol, text: text) }
            alice.signsOrigins = true
            let signed = try measure("text with origin", alice) { try alice.prepareText(to: toCarol, text: text) }

            // A message forwarded HOPS - 1 times between them, then forwarded once more per envelope.
            let first = try alice.sendText(to: toBob, text: text)
            var source = try awaitForwardable(bob, id: first)
            var holder = bob
            for _ in 1..<hops {
                let other = holder === bob ? alice : bob
                let sent = try holder.forward(source, to: [holder === bob ? toAlice : toBob], groups: [:], limits: ForwardLimits(defaultScope: .federation, maxHops: 64, maxRecipients: 5))
                source = try awaitForwardable(other, id: sent[0].id)
                holder = other
            }
            let target = holder === bob ? toAlice : toBob
            let forwards = try measure("forward, hop \(hops)", holder) {
                try holder.prepareForward(source, to: [target], groups: [:], note: "")[0]
            }
            let ways = [plain, signed, forwards]
            let status = try hq.status()
            let refused = (status["forwards"] as? [String: Any])?["refused"] as? Int ?? -1
            if json {
                let object: [String: Any] = ["mode": "forward", "count": count, "size": size, "hops": hops, "refused": refused,
                                             "ways": ways.map { ["name": $0.name, "prepare_us": $0.prepareUs, "per_s": $0.perS, "body_bytes": $0.bodyBytes] }]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print("forward: \(count) envelopes per way, \(size)-byte texts, one node (\(refused) refused)")
                for w in ways {
                    print("  \(w.name.padding(toLength: 22, withPad: " ", startingAt: 0)) prepare \(String(format: "%7.1f", w.prepareUs)) µs   "
                          + "\(String(format: "%8.0f", w.perS)) stored/s   body \(w.bodyBytes) bytes")
                }
            }
        }
    }
}

/// Receives until message `id` arrives (acknowledging what comes before it) and returns what forwarding it needs.
func awaitForwardable(_ client: Client, id: MessageID, timeoutMs: Int = 20_000) throws -> ForwardSource {
    try client.attach()
    defer { try? client.detach() }
    let deadline = Clock.monotonicNs() + UInt64(timeoutMs) * 1_000_000
    while Clock.monotonicNs() < deadline {
        guard case .message(let m)? = try client.next(timeoutMs: 100) else { continue }
        try client.ack(m.seq)
        if m.id == id, let source = m.forwardable {
            try client.flush()
            return source
        }
    }
    throw ClientError.protocolError("message \(id.hex) did not arrive with a forwardable origin")
}
