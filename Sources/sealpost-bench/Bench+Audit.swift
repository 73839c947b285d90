import ArgumentParser
import Foundation
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium

extension Bench {
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "The audit log: bytes on disk per record, append cost, verification and proof times.",
            discussion: """
                COUNT records of a typical mix (burn views and file fetches with a 16-byte id and two addresses, \
                account and invite changes) are appended to a fresh node database (WAL, synchronous=FULL, \
                secure_delete) in transactions of BATCH, as a reactor cycle appends them. Then the database is \
                checkpointed and its growth divided by COUNT; the whole log is verified against a signed head; \
                and PROOFS inclusion proofs are built against that head.
                """)

        @Option(help: "Records to append.") var count = 100_000
        @Option(help: "Records per transaction.") var batch = 100
        @Option(help: "Inclusion proofs to build.") var proofs = 100
        @Option(help: "Keep the database in this new directory (for sqlite3's dbstat); a temporary one otherwise.") var dir: String?
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            guard count > 0, batch > 0, proofs >= 0 else { throw ValidationError("--count and --batch must be positive") }
        }

        func run() throws {
            let root = dir ?? NSTemporaryDirectory() + "sealpost-bench-audit-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            defer { if dir == nil { try? FileManager.default.removeItem(atPath: root) } }
            let path = root + "/node.db"
            let store = try NodeStore(path: path)
            defer { store.close() }
            try store.checkpoint()
            let empty = Self.size(path)
            var rng = SplitMix64(state: 12)
            func id() -> MessageID { MessageID(bytes: (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) })! }
            let events: [() -> AuditEvent] = [
                { .burnViewed(id: id(), viewer: "wu.lei@traffic", sender: "li.ming@hq") },
                { .fileFetched(file: id(), by: "zhang.wei@traffic", owner: "li.ming@hq") },
                { .fileFetched(file: id(), by: "district", owner: "li.ming@hq") },
                { .userDisabled(user: "zhao.qian@hq", by: AuditActor.operator) },
                { .inviteCreated(invite: "26cb7f4824356a7c", user: "sun.li@hq", rekey: false, by: AuditActor.operator) },
            ]
            var appendNs: [UInt64] = []
            appendNs.reserveCapacity(count)
            var commitNs: [UInt64] = []
            let t0 = Clock.monotonicNs()
            var done = 0
            while done < count {
                try store.begin()
                for _ in 0..<min(batch, count - done) {
                    let event = events[done % events.count]()
                    let a = Clock.monotonicNs()
                    try store.appendAudit(event, time: Clock.nowMs())
                    appendNs.append(Clock.monotonicNs() - a)
                    done += 1
                }
                let c = Clock.monotonicNs()
                try store.commit()
                commitNs.append(Clock.monotonicNs() - c)
            }
            let seconds = Double(Clock.monotonicNs() - t0) / 1e9
            try store.checkpoint()
            let bytes = Self.size(path) - empty

            var seed = Sodium.randomBytes(32)
            let key = SignKeyPair(seed: &seed)!
            guard let head = try store.signAuditHead(node: "bench", key: key) else { throw ValidationError("nothing to sign") }
            let v0 = Clock.monotonicNs()
            let verified = try store.verifyAudit(node: "bench", nodeKey: key.publicKey)
            let verifyS = Double(Clock.monotonicNs() - v0) / 1e9
            let p0 = Clock.monotonicNs()
            var picked: [AuditRecord] = []
            for i in 0..<proofs {
                let position = UInt64(1 + (i * 7919) % count)
                if let r = try store.auditRecord(at: position) { picked.append(r.record) }
            }
            let built = try store.auditProofs(of: picked, head: head)
            let proofS = Double(Clock.monotonicNs() - p0) / 1e9
            for p in built { try p.verify(nodeKey: key.publicKey) }

            let p50 = Double(percentile(appendNs, 0.5)) / 1000, p99 = Double(percentile(appendNs, 0.99)) / 1000
            let c50 = Double(percentile(commitNs, 0.5)) / 1000
            let perRecord = Double(bytes) / Double(count)
            if json {
                let object: [String: Any] = [
                    "records": count, "batch": batch, "bytes_per_record": perRecord.rounded(), "append_p50_us": p50, "append_p99_us": p99,
                    "commit_p50_us": c50, "records_per_s": (Double(count) / seconds).rounded(), "verify_s": verifyS, "verified": verified.ok,
                    "proofs": built.count, "proofs_s": proofS, "proof_hashes": built.first?.path.count ?? 0,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("audit log: \(count) records in transactions of \(batch)")
                print(String(format: "  on disk      %.0f bytes per record (table, its 4 indexes and the kept subtrees, after a checkpoint)", perRecord))
                print(String(format: "  append       p50 %.1f µs, p99 %.1f µs inside a transaction; commit of %d p50 %.0f µs; %.0f records/s overall",
                             p50, p99, batch, c50, Double(count) / seconds))
                print(String(format: "  verify       %.2f s for the whole log and its head (%@)", verifyS, verified.ok ? "verified" : "FAILED"))
                print(String(format: "  proofs       %d against the head in %.3f s (from the kept subtrees; %d hashes each)", built.count, proofS,
                             built.first?.path.count ?? 0))
            }
        }

        static func size(_ path: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        }
    }
}

