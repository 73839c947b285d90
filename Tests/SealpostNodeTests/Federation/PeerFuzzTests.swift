import Foundation
import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

/// Mutated node-to-node frames from a configured peer, on every connection a peer has
/// to a node (its requests, its answers, its announcements); after each batch the node
/// must still answer a PEER-PING and its admin status. Seeded: a failure names its seed.
///
/// Short in the suite (`SEALPOST_FUZZ_SECONDS`, default 3); `deploy/fuzz-peer.sh` runs it
/// for minutes with fresh seeds (`SEALPOST_FUZZ_SEED`).
final class PeerFuzzTests: XCTestCase {
    static let extremes: [UInt64] = [1 << 63, .max, (1 << 63) - 1, 0, 1 << 32, UInt64(UInt32.max)]

    /// The frames of protocol/vectors/peer-commands.json, and every node-to-node command
    /// with each of its u64 fields set to the extremes (2^63, 2^64 − 1, …).
    static func seeds() throws -> [[UInt8]] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../protocol/vectors/peer-commands.json").standardized
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        var out = (json?["vectors"] as? [[String: Any]] ?? []).compactMap { ($0["hex"] as? String).flatMap(Hex.decode) }
        let key = [UInt8](repeating: 7, count: 32), file = MessageID(bytes: [UInt8](repeating: 3, count: 16))!
        for v in extremes {
            let envelope = Envelope(id: .zero, from: "eve@fake", to: "bob@hq", kind: EnvelopeKind.text.rawValue, sentAt: v, body: [1])
            let reminder = Envelope(id: .zero, from: "eve@fake", to: "bob@hq", kind: EnvelopeKind.reminder.rawValue, sentAt: 1,
                                    body: Reminder.body(dueAt: v, sealed: [1]))
            let commands: [PeerCommand] = [
                .relay(jid: v, origin: "fake", dest: "hq", streamSeq: v, hops: 0, envelope: envelope),
                .relay(jid: 1, origin: "fake", dest: "hq", streamSeq: v, hops: 0, envelope: reminder),
                .relay(jid: 2, origin: "fake", dest: "hq", streamSeq: 1, hops: 0, envelope: envelope),
                .relayed(jids: [v, 1]),
                .ping(sentNs: v), .pong(echoNs: v),
                .routes(node: "fake", seq: v, entries: [RouteEntry(dest: "fake", signKey: key, directoryVersion: v, path: [])]),
                .directorySnapshot(home: "fake", version: v, entries: [[1, 2]], signature: DirectoryHead.noSignature),
                .summary(node: "fake", seq: v, json: Array("{}".utf8)),
                .filePull(fileId: file, origin: "fake", size: v, chunks: 1, from: UInt32(truncatingIfNeeded: v), count: 1),
                .fileData(fileId: file, index: UInt32(truncatingIfNeeded: v), hash: key, data: [1]),
                .fileHave(fileId: file, have: UInt32(truncatingIfNeeded: v), known: true),
                .filePulled(fileId: file),
                .hello(node: "fake", signKey: key, credit: UInt32(truncatingIfNeeded: v), labels: LabelSet.standard.digest),
            ]
            out += commands.map { $0.encode() }
        }
        return out
    }

    /// One mutation of `frame`: bit flips, a truncation, bytes added, a 2-, 4- or 8-byte
    /// field overwritten with an extreme value (lengths, counts, u64s), or a slice repeated.
    static func mutate(_ frame: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var f = frame
        switch rng.below(6) {
        case 0:
            for _ in 0...rng.below(4) where !f.isEmpty { f[rng.below(f.count)] ^= UInt8(1 << rng.below(8)) }
        case 1:
            f = Array(f.prefix(rng.below(f.count + 1)))
        case 2:
            for _ in 0...rng.below(16) { f.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(f.count + 1)) }
        case 3, 4:
            let width = [2, 4, 8][rng.below(3)]
            guard f.count > 4 + width else { break }
            let at = 4 + rng.below(f.count - 4 - width + 1)
            let v = extremes[rng.below(extremes.count)]
            let bytes = width == 8 ? (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) }
                : [UInt8](repeating: rng.below(2) == 0 ? 0xFF : 0x80, count: 1) + [UInt8](repeating: 0xFF, count: width - 1)
            f.replaceSubrange(at..<at + width, with: bytes)
        default:
            guard f.count > 4 else { break }
            let start = 4 + rng.below(f.count - 4), end = start + rng.below(f.count - start + 1)
            let piece = Array(f[start..<end])
            f.insert(contentsOf: piece, at: end)
        }
        return f
    }

    /// Runs the fuzz against one node for `seconds`. Returns the frames sent.
    static func run(seed: UInt64, seconds: Double) throws -> Int {
        let (hq, fake, bob) = try hqWithFakePeer()
        defer { bob.close() }
        try fake.waitForNodeHello()
        let seeds = try seeds()
        var rng = SplitMix64(state: seed)
        var sent = 0, batch: UInt64 = 0
        let end = Clock.monotonicNs() + UInt64(seconds * 1e9)
        while Clock.monotonicNs() < end {
            batch += 1
            for _ in 0..<200 {
                var frame = seeds[rng.below(seeds.count)]
                for _ in 0...rng.below(3) { frame = mutate(frame, &rng) }
                // Requests on our DEALER, answers to the node's DEALER, announcements on our PUB.
                switch rng.below(3) {
                case 0: try fake.send(frame)
                case 1: try fake.answer(frame)
                default: try fake.publish(frame)
                }
                sent += 1
            }
            // Keep the link up (a fuzzed HELLO or ROUTES may have changed what the node thinks of us).
            try fake.announce()
            guard try fake.pingAnswered(batch, timeoutMs: 10_000) else {
                XCTFail("seed \(seed): no PEER-PONG after batch \(batch) (\(sent) frames)")
                return sent
            }
            guard (try? hq.status()) != nil else {
                XCTFail("seed \(seed): no admin status after batch \(batch) (\(sent) frames)")
                return sent
            }
        }
        XCTAssertEqual(try hq.counter(\.commitFailures), 0, "seed \(seed)")
        return sent
    }

    func testFuzzedPeerFramesNeverStopTheNode() throws {
        let env = ProcessInfo.processInfo.environment
        let seed = env["SEALPOST_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20_261_201
        let seconds = env["SEALPOST_FUZZ_SECONDS"].flatMap { Double($0) } ?? 3
        let start = Clock.monotonicNs()
        let sent = try Self.run(seed: seed, seconds: seconds)
        let elapsed = Double(Clock.monotonicNs() - start) / 1e9
        // One line for deploy/fuzz-peer.sh to add up.
        print("fuzz-peer: seed \(seed) frames \(sent) seconds \(String(format: "%.1f", elapsed))")
    }
}
