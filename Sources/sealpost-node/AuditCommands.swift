import ArgumentParser
import Foundation
import SealpostCore
import SealpostNode

extension SealpostNodeCommand {
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The node's tamper-evident audit log: read it, verify it, sign its head, export it (running or stopped node).",
            discussion: """
                Every node keeps a hash-chained log of forwards, burn views, file fetches, account, invite, peer and \
                directory changes, backups and restores: ids, addresses, times and hashes, never content \
                (protocol/SPEC.md 15.7, deploy/OPERATING.md "Audit log").
                """,
            subcommands: [List.self, Verify.self, Head.self, Export.self],
            defaultSubcommand: List.self)

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "list",
                abstract: "Print the records, oldest first (the default).")
            @OptionGroup var options: DataOption
            @Option(help: "Only records from this time on: RFC 3339 (2026-12-01T08:00:00Z), YYYY-MM-DD [HH:MM] (local), or an age (90m, 2h, 7d).")
            var since: String?
            @Option(help: "Only records whose actor or subject is ADDR (user@node, or a bare user name of this node, or a peer node's name).")
            var user: String?
            @Option(help: "Only records of this kind (\(AuditKind.allCases.map(\.name).joined(separator: ", "))).")
            var kind: String?
            @Option(help: "Only records about this message, forward or file id (32 hex digits).")
            var ref: String?
            @Option(help: "At most this many records (the last ones).") var limit: Int?
            @Flag(help: "Print as JSON.") var json = false

            func validate() throws {
                if let since, AuditTime.parse(since) == nil {
                    throw ValidationError("--since '\(since)' is not a time: use 2026-12-01T08:00:00Z, 2026-12-01, '2026-12-01 08:00' or an age like 2h or 7d")
                }
                if let kind, AuditKind(name: kind) == nil {
                    throw ValidationError("--kind '\(kind)' is not a kind; use one of \(AuditKind.allCases.map(\.name).joined(separator: ", "))")
                }
                if let ref, MessageID(hex: ref) == nil { throw ValidationError("--ref must be 32 hex digits (a message or file id)") }
                if let limit, limit < 1 { throw ValidationError("--limit must be 1 or more") }
            }

            func run() throws {
                do {
                    let config = try options.dir.loadConfig()
                    var filter = AuditFilter(since: since.flatMap { AuditTime.parse($0) }, kind: kind.flatMap(AuditKind.init(name:)),
                                             ref: ref.flatMap(MessageID.init(hex:)))
                    if let user { filter.user = user.contains("@") || user == AuditActor.operator ? user : Self.name(user, config: config) }
                    var records = try Operator.auditRecords(dataDir: options.dir, filter: filter)
                    if let limit, records.count > limit { records = Array(records.suffix(limit)) }
                    if json { printJSON(["node": config.name, "records": records.map(Operator.auditJSON)]); return }
                    if records.isEmpty { print([since, user, kind, ref].contains { $0 != nil } ? "no audit records match" : "no audit records yet"); return }
                    print(pad("POS", 7) + pad("TIME", 25) + pad("KIND", 21) + "WHAT")
                    for s in records {
                        let what = (try? s.record.event()).map(Operator.describe) ?? "(fields do not decode: run sealpost-node audit verify)"
                        print(pad("\(s.record.position)", 7) + pad(Clock.rfc3339(ms: s.record.time), 25) + pad(s.record.fields.kind.name, 21) + what)
                    }
                } catch let error as NodeError {
                    fail(error.description)
                }
            }

            /// A bare name is a user of this node, unless a peer has that name.
            static func name(_ bare: String, config: NodeConfig) -> String {
                config.peers.contains { $0.name == bare } ? bare : "\(bare)@\(config.name)"
            }
        }

        struct Verify: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check every record's chain and the signed heads; name the first bad position (exit 1 if any).",
                discussion: "Finds an edited, removed, inserted or reordered record and a tail cut below the last signed head; a running node also finds a cut above it.")
            @OptionGroup var options: DataOption
            @Flag(help: "Print as JSON.") var json = false

            func run() throws {
                let result: AuditVerification
                do { result = try Operator.auditVerify(dataDir: options.dir) } catch let error as NodeError { fail(error.description) }
                if json {
                    printJSON(["ok": result.ok, "records": Int(result.records), "heads_checked": result.headsChecked,
                               "first_bad": result.firstBad.map { Int($0) } ?? NSNull(), "problem": result.problem ?? NSNull()])
                } else if result.ok {
                    print("audit log verified: \(result.records) records, \(result.headsChecked) signed heads checked")
                } else {
                    print("audit log BROKEN at position \(result.firstBad ?? 0): \(result.problem ?? "")")
                    print("records 1…\(result.records) verify. Keep a copy of the data directory as evidence (sealpost-node backup), and compare with your last export (deploy/OPERATING.md \"Audit log\").")
                }
                if !result.ok { throw ExitCode(1) }
            }
        }

        struct Head: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Sign the audit head now if the log changed, and print the latest signed head.")
            @OptionGroup var options: DataOption
            @Flag(help: "Print as JSON.") var json = false

            func run() throws {
                let report: Operator.AuditHeadReport
                do { report = try Operator.auditHead(dataDir: options.dir) } catch let error as NodeError { fail(error.description) }
                if json {
                    var object: [String: Any] = ["position": Int(report.position), "sign_key": Hex.encode(report.signKey)]
                    if let head = report.head {
                        object["head"] = ["node": head.node, "position": Int(head.position), "root": Hex.encode(head.root),
                                          "time": Clock.rfc3339(ms: head.time), "time_ms": Int(head.time), "signature": Hex.encode(head.signature)]
                    }
                    printJSON(object)
                    return
                }
                guard let head = report.head else {
                    print("the audit log is empty: nothing signed yet")
                    return
                }
                print("node       \(head.node)")
                print("records    \(report.position) (signed through \(head.position))")
                print("root       \(Hex.encode(head.root))")
                print("signed at  \(Clock.rfc3339(ms: head.time))")
                print("signature  \(Hex.encode(head.signature))")
                print("sign key   \(Hex.encode(report.signKey))")
            }
        }

        struct Export: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write the whole log and its signed heads to FILE as JSON lines, for an archive.",
                discussion: "The head is signed first, so the file ends with a head over every record. Check an archived file with protocol/check_vectors.py --audit-export FILE.")
            @OptionGroup var options: DataOption
            @Argument(help: "A new file to write.") var file: String

            func run() throws {
                do {
                    let done = try Operator.auditExport(dataDir: options.dir, to: file)
                    print("exported \(done.records) records and \(done.heads) signed heads to \(file) (\(done.bytes) bytes)")
                } catch let error as NodeError {
                    fail(error.description)
                }
            }
        }
    }
}

/// `--since` times: RFC 3339, `YYYY-MM-DD` or `YYYY-MM-DD HH:MM` (local time), or an age (`90m`, `2h`, `7d`).
enum AuditTime {
    static func parse(_ text: String, now: UInt64 = Clock.nowMs()) -> UInt64? {
        if let unit = text.last, let n = UInt64(text.dropLast()), n < 1_000_000 {
            let ms: UInt64? = ["s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000][unit]
            if let ms { return now >= n * ms ? now - n * ms : 0 }
        }
        let iso = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds]] {
            iso.formatOptions = options
            if let date = iso.date(from: text) { return UInt64(max(0, date.timeIntervalSince1970 * 1000)) }
        }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        for format in ["yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
            local.dateFormat = format
            if let date = local.date(from: text) { return UInt64(max(0, date.timeIntervalSince1970 * 1000)) }
        }
        return nil
    }
}
