import ArgumentParser
import Foundation
import SealpostClient
import SealpostCore

extension SealpostCommand {
    struct TraceCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "trace",
            abstract: "Security officers: trace a message across the federation (who forwarded it to whom), or resolve a viewer code.",
            discussion: """
                Your node asks every node of the federation it knows; each answers from its audit log under its own \
                operator's policy. Every answer is checked here with the node keys your node holds, every record \
                against its node's signed audit head, every hop against its forwarder's directory key. A node that \
                does not answer, refuses, or whose answer does not verify is shown as a GAP; a forged hop as FORGED. \
                --code resolves the code of a watermark (read off a leaked photo) to the viewer and the message, \
                then traces that message.
                """)

        @Argument(help: "The message id (32 hex digits).") var id: String?
        @Option(help: "A viewer code from a watermark, e.g. traffic-7KQ2-M9XD.") var code: String?
        @Flag(help: "Print the result as one JSON object.") var json = false
        @Option(help: "Also write the tree as a Graphviz DOT file.") var dot: String?
        @Option(help: "Also write the tree as an SVG picture (needs Graphviz's dot).") var svg: String?
        @Option(help: "Seconds to wait for the trace (the node ends it at its trace.timeout_seconds).") var wait: Int = 330
        @OptionGroup var profile: ProfileOption

        func validate() throws {
            if (id == nil) == (code == nil) { throw ValidationError("give a message id, or --code CODE") }
            if let id, MessageID(hex: id) == nil { throw ValidationError("'\(id)' is not a message id (32 hex digits)") }
            if let code, ViewerCode(code) == nil { throw ValidationError("'\(code)' is not a viewer code (NODE-XXXX-XXXX)") }
            guard (1...3600).contains(wait) else { throw ValidationError("--wait must be 1 to 3600 seconds") }
        }

        func run() throws {
            let p = profile.load()
            let started = Clock.monotonicNs()
            do {
                let client = try profile.client(p)
                defer { client.close() }
                let nodeKeys = try client.nodeKeys()
                var signKeys: [String: [UInt8]?] = [:]
                let signKey: (String) -> [UInt8]? = { address in
                    if let known = signKeys[address] { return known }
                    let key = Address(address).flatMap { try? client.lookup($0).signKey }
                    signKeys[address] = key
                    return key
                }
                var object: [String: Any] = [:]
                var lines: [String] = []
                var messageID = id.flatMap(MessageID.init(hex:))
                var viewer: TraceReport.Viewer?
                if let code, let parsed = ViewerCode(code) {
                    let subject = Trace.Subject.code(parsed.description)
                    let report = TraceReport.build(subject: subject, results: try client.trace(subject, waitMs: wait * 1000),
                                                   nodeKeys: nodeKeys, userSignKey: signKey)
                    guard let found = report.viewers.first(where: { $0.code == parsed.description }) else {
                        let why = report.tree.gaps.map { "\($0.node): \($0.reason)" }.joined(separator: "; ")
                        fail("code \(parsed) was not resolved: " + (why.isEmpty ? "\(parsed.node) has no record of it" : why))
                    }
                    viewer = found
                    messageID = found.message
                    object["viewer"] = TraceOutput.json(found)
                    lines += TraceOutput.viewerLines(found)
                }
                let subject = Trace.Subject.message(messageID!)
                let report = TraceReport.build(subject: subject, results: try client.trace(subject, waitMs: wait * 1000),
                                               nodeKeys: nodeKeys, userSignKey: signKey)
                let elapsed = Double(Clock.monotonicNs() - started) / 1e9
                object.merge(report.tree.jsonObject()) { a, _ in a }
                object["elapsed_s"] = elapsed
                if let viewer, let path = TraceOutput.path(to: viewer.viewer, in: report.tree) {
                    object["path"] = path.map { ["forwarder": $0.forwarder, "to": $0.to, "at": Clock.rfc3339(ms: $0.at)] }
                    lines.append("  forward path: " + ([report.tree.origin?.sender ?? "?"] + path.map { "\($0.forwarder)" } + [viewer.viewer])
                        .joined(separator: " → "))
                }
                let pictures = try TraceOutput.writePictures(report.tree, dotPath: dot, svgPath: svg)
                if json {
                    print(jsonLine(object))
                } else {
                    for l in lines { print(l) }
                    print(report.tree.text())
                    print(String(format: "traced in %.2f s", elapsed))
                }
                for l in pictures { FileHandle.standardError.write(Data((l + "\n").utf8)) }
            } catch ClientError.refused(let code, let reason) {
                fail(code == ErrorCode.notAllowed.rawValue ? "\(reason)" : "the node refused the trace: \(reason)")
            } catch { fail("\(error)") }
        }
    }
}
