import ArgumentParser
import Foundation
import SealpostCore
import SealpostNode

/// `sealpost-bench labels`: the cost of the label check a node makes for every envelope it relays
/// (`LabelGuard.relay`: the label, what the node carries, the ceiling of the link to the next hop),
/// and of the recipient check, on a mix of labels, peers and outcomes. No I/O: ns per check.
struct Labels: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The label policy check's cost per envelope (ns/check).")
    @Option(help: "Checks to make.") var checks = 5_000_000
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        var config = NodeConfig(name: "city")
        config.labels = LabelsConfig(defaultLabel: "内部", ceiling: "秘密", accredited: ["秘密"])
        let peers = ["district", "traffic", "school", "police"]
        config.peers = peers.enumerated().map { i, name in
            PeerConfig(name: name, router: "tcp://127.0.0.1:\(7500 + i)", publish: "tcp://127.0.0.1:\(7600 + i)",
                       publicKey: String(repeating: "0", count: 40), ceiling: i % 2 == 0 ? "敏感" : nil)
        }
        let guarded = try LabelGuard(config: config)
        // Envelopes of every label (and unlabelled ones), as relays see them.
        var envelopes: [Envelope] = []
        for i in 0..<64 {
            let label: EnvelopeLabel? = i % 9 == 8 ? nil : EnvelopeLabel(rank: UInt8(i % 8), readableUntil: 0)
            envelopes.append(Envelope(id: MessageID(bytes: [UInt8](repeating: UInt8(i), count: 16))!, from: "a@hq", to: "b@district",
                                      kind: 1, sentAt: 1, label: label, body: [1, 2, 3]))
        }
        // Passed on (the common case) and refused (the refusal names the node, link and labels).
        let allowed = envelopes.flatMap { e in peers.map { (e, $0) } }.filter { guarded.relay($0.0, to: $0.1) == nil }
        let refusedMix = envelopes.flatMap { e in peers.map { (e, $0) } }.filter { guarded.relay($0.0, to: $0.1) != nil }
        func measure(_ cases: [(Envelope, String)]) -> (ns: Double, refused: Int) {
            var refused = 0
            let t0 = DispatchTime.now().uptimeNanoseconds
            for i in 0..<checks {
                let (e, peer) = cases[i % cases.count]
                if guarded.relay(e, to: peer) != nil { refused += 1 }
            }
            return (Double(DispatchTime.now().uptimeNanoseconds - t0) / Double(checks), refused)
        }
        let (relayNs, _) = measure(allowed)
        let (refusedNs, refused) = measure(refusedMix)
        let policy = guarded.policy
        let recipients: [(address: String, clearance: UInt8)] = [("wu@traffic", 2)]
        var notCleared = 0
        let t1 = DispatchTime.now().uptimeNanoseconds
        for i in 0..<checks {
            if policy.deliver(UInt8(i & 3), to: recipients) != nil { notCleared += 1 }
        }
        let deliverNs = Double(DispatchTime.now().uptimeNanoseconds - t1) / Double(checks)
        if json {
            let object: [String: Any] = ["mode": "labels", "checks": checks, "relay_ns_per_check": (relayNs * 10).rounded() / 10,
                                         "refused_ns_per_check": (refusedNs * 10).rounded() / 10,
                                         "deliver_ns_per_check": (deliverNs * 10).rounded() / 10, "refused": refused, "not_cleared": notCleared]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("""
                labels: \(checks) checks on a mix of 8 labels (and unlabelled), 4 links, half with a ceiling
                  relay check, passed on  \(String(format: "%.1f", relayNs)) ns/check
                  relay check, refused    \(String(format: "%.1f", refusedNs)) ns/check (\(refused) refusals, each with its sentence)
                  deliver check           \(String(format: "%.1f", deliverNs)) ns/check (\(notCleared) not cleared)
                """)
        }
    }
}
