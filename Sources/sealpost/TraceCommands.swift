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
            do {
                let client = try profile.client(p)
                defer { client.close() }
                let nodeKeys = try client.nodeKeys()
                var signKeys: [String: [UInt8]?] = [:]
                let result = try TraceOutput.run(id: id.flatMap(MessageID.init(hex:)), code: code.flatMap(ViewerCode.init),
                                                 dotPath: dot, svgPath: svg) { subject in
                    TraceReport.build(subject: subject, results: try client.trace(subject, waitMs: wait * 1000), nodeKeys: nodeKeys) { address in
                        if let known = signKeys[address] { return known }
                        let key = Address(address).flatMap { try? client.lookup($0).signKey }
                        signKeys[address] = key
                        return key
                    }
                }
                if json { print(jsonLine(result.object)) } else { for l in result.lines { print(l) } }
                for l in result.pictures { FileHandle.standardError.write(Data((l + "\n").utf8)) }
            } catch ClientError.refused(let code, let reason) {
                fail(code == ErrorCode.notAllowed.rawValue ? "\(reason)" : "the node refused the trace: \(reason)")
            } catch { fail("\(error)") }
        }
    }
}
