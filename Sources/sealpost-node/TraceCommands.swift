import ArgumentParser
import Foundation
import SealpostClient
import SealpostCore
import SealpostNode

/// `users officer grant|revoke|list` and `trace`.
extension SealpostNodeCommand {
    struct Officer: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Grant, revoke or list the security officer role: who may trace messages and resolve viewer codes.",
            discussion: "The operator (this admin key) counts as an officer without a grant. Grants and revocations are written in the audit log.",
            subcommands: [OfficerGrant.self, OfficerRevoke.self, OfficerList.self],
            defaultSubcommand: OfficerList.self)
    }

    static func changeOfficer(_ options: DataOption, _ user: String, _ action: Operator.OfficerAction, json: Bool) {
        do {
            let change = try Operator.changeOfficer(dataDir: options.dir, user: user, action: action)
            if json {
                printJSON(["address": change.address, "officer": change.officer, "changed": change.changed,
                           "node_running": change.throughRunningNode])
            } else if action == .grant {
                print(change.changed ? "\(change.address) is a security officer of this node: they may trace (sealpost trace)"
                                     : "\(change.address) already is a security officer")
            } else {
                print(change.changed ? "\(change.address) is no longer a security officer" : "\(change.address) was not a security officer")
            }
        } catch let error as NodeError { fail(error.description) } catch { fail("\(error)") }
    }

    struct OfficerGrant: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "grant", abstract: "Make USER a security officer of this node.")
        @OptionGroup var options: DataOption
        @Argument(help: "The user name, e.g. sun.") var user: String
        @Flag(help: "Print the result as JSON.") var json = false
        func run() throws { SealpostNodeCommand.changeOfficer(options, user, .grant, json: json) }
    }

    struct OfficerRevoke: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Take the security officer role from USER.")
        @OptionGroup var options: DataOption
        @Argument(help: "The user name, e.g. sun.") var user: String
        @Flag(help: "Print the result as JSON.") var json = false
        func run() throws { SealpostNodeCommand.changeOfficer(options, user, .revoke, json: json) }
    }

    struct OfficerList: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the security officers of this node.")
        @OptionGroup var options: DataOption
        @Flag(help: "One JSON object per line.") var json = false
        func run() throws {
            let officers: [OfficerRecord]
            do { officers = try Operator.officers(dataDir: options.dir) } catch let error as NodeError { fail(error.description) }
            let node = (try? options.dir.loadConfig().name) ?? "?"
            if json {
                for o in officers {
                    printJSON(["address": "\(o.user)@\(node)", "granted_at": Clock.rfc3339(ms: o.grantedAt * 1000), "granted_by": o.grantedBy])
                }
                return
            }
            if officers.isEmpty {
                print("no security officers on '\(node)' (the operator traces with sealpost-node trace); grant one: sealpost-node users officer grant --data \(options.data) USER")
                return
            }
            print("ADDRESS".padding(toLength: 28, withPad: " ", startingAt: 0) + "GRANTED")
            for o in officers {
                print("\(o.user)@\(node)".padding(toLength: 28, withPad: " ", startingAt: 0) + Clock.rfc3339(ms: o.grantedAt * 1000))
            }
        }
    }

    struct TraceCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "trace",
            abstract: "Trace a message across the federation as this node's operator, or resolve a viewer code.",
            discussion: "As `sealpost trace`, through the running node's admin socket: every answer and record is checked against its node's signed audit head; gaps and forged hops are shown.")
        @OptionGroup var options: DataOption
        @Argument(help: "The message id (32 hex digits).") var id: String?
        @Option(help: "A viewer code from a watermark, e.g. traffic-7KQ2-M9XD.") var code: String?
        @Flag(help: "Print the result as one JSON object.") var json = false
        @Option(help: "Also write the tree as a Graphviz DOT file.") var dot: String?
        @Option(help: "Also write the tree as an SVG picture (needs Graphviz's dot).") var svg: String?

        func validate() throws {
            if (id == nil) == (code == nil) { throw ValidationError("give a message id, or --code CODE") }
            if let id, MessageID(hex: id) == nil { throw ValidationError("'\(id)' is not a message id (32 hex digits)") }
            if let code, ViewerCode(code) == nil { throw ValidationError("'\(code)' is not a viewer code (NODE-XXXX-XXXX)") }
        }

        /// One trace through the admin socket, checked.
        func ask(_ subject: Trace.Subject, timeoutMs: Int) throws -> TraceReport {
            var request: [String: Any] = ["cmd": "trace"]
            switch subject {
            case .message(let id): request["message"] = id.hex
            case .code(let code): request["code"] = code
            }
            let answer = try AdminClient.request(dataDir: options.dir, request, timeoutMs: timeoutMs)
            let results = (answer["nodes"] as? [[String: Any]] ?? []).compactMap { n -> Trace.NodeResult? in
                guard let node = n["node"] as? String, let state = (n["state"] as? Int).flatMap({ Trace.NodeState(rawValue: UInt8(clamping: $0)) })
                else { return nil }
                return Trace.NodeResult(node: node, state: state, answer: Array(Data(base64Encoded: n["answer"] as? String ?? "") ?? Data()))
            }
            let nodeKeys = (answer["node_keys"] as? [String: String] ?? [:]).compactMapValues(Hex.decode)
            let signKeys = (answer["sign_keys"] as? [String: String] ?? [:]).compactMapValues(Hex.decode)
            return TraceReport.build(subject: subject, results: results, nodeKeys: nodeKeys, userSignKey: { signKeys[$0] })
        }

        func run() throws {
            let config: NodeConfig
            do { config = try options.dir.loadConfig() } catch let error as NodeError { fail(error.description) }
            let timeoutMs = (config.trace.timeoutSeconds + 10) * 1000
            do {
                let result = try TraceOutput.run(id: id.flatMap(MessageID.init(hex:)), code: code.flatMap(ViewerCode.init),
                                                 dotPath: dot, svgPath: svg) { try ask($0, timeoutMs: timeoutMs) }
                if json { printJSON(result.object) } else { for l in result.lines { print(l) } }
                for l in result.pictures { FileHandle.standardError.write(Data((l + "\n").utf8)) }
            } catch let error as NodeError { fail(error.description) } catch { fail("\(error)") }
        }
    }
}
