import Foundation
import SealpostCore

/// How both trace tools (`sealpost trace`, `sealpost-node trace`) show a report: the indented
/// tree (or JSON), and the picture as Graphviz DOT and SVG files.
public enum TraceOutput {
    public struct NoGraphviz: Error, CustomStringConvertible {
        public var description: String {
            "Graphviz's 'dot' is not installed, so no SVG was made: install it (Debian: apt-get install graphviz) and run again, or write the picture with --dot FILE and render it elsewhere (dot -Tsvg FILE > trace.svg)"
        }
    }

    /// Renders DOT text to SVG with Graphviz's `dot -Tsvg`.
    /// - Throws: `NoGraphviz` when `dot` is not on the PATH; an error with dot's own message when it fails.
    public static func svg(fromDot dot: String) throws -> [UInt8] {
        guard let path = which("dot") else { throw NoGraphviz() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-Tsvg"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(dot.utf8))
        try input.fileHandleForWriting.close()
        let svg = output.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TraceOutputError("dot -Tsvg failed: \(String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return Array(svg)
    }

    /// The first executable `name` on the PATH.
    static func which(_ name: String) -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return paths.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Writes the picture files asked for (`--dot`, `--svg`); returns the lines saying what was written.
    public static func writePictures(_ tree: TraceTree, dotPath: String?, svgPath: String?) throws -> [String] {
        var said: [String] = []
        let dot = tree.dot()
        if let dotPath {
            try Data(dot.utf8).write(to: URL(fileURLWithPath: dotPath))
            said.append("wrote \(dotPath) (Graphviz DOT)")
        }
        if let svgPath {
            let svg = try svg(fromDot: dot)
            try Data(svg).write(to: URL(fileURLWithPath: svgPath))
            said.append("wrote \(svgPath) (SVG)")
        }
        return said
    }

    /// The chain from the origin to the hop that reached `viewer` (first such hop), for `--code`.
    public static func path(to viewer: String, in tree: TraceTree) -> [TraceTree.Hop]? {
        func find(_ hops: [TraceTree.Hop], _ trail: [TraceTree.Hop]) -> [TraceTree.Hop]? {
            for h in hops {
                let here = trail + [h]
                if h.to.contains(viewer) { return here }
                if let deeper = find(h.children, here) { return deeper }
            }
            return nil
        }
        return find(tree.hops, []) ?? find(tree.orphans, [])
    }

    /// What `--code` prints about a resolved viewer.
    public static func viewerLines(_ v: TraceReport.Viewer) -> [String] {
        ["code \(v.code): viewed by \(v.viewer) at \(Clock.rfc3339(ms: v.issuedAt))",
         "  message \(v.message.hex)" + (v.sender.isEmpty ? "" : " from \(v.sender)")
            + (v.origin.map { ", a forward of \($0.hex)" } ?? ""),
         "  issued and logged by \(v.node) (audit record \(v.position), proven against its signed head)"]
    }

    public static func json(_ v: TraceReport.Viewer) -> [String: Any] {
        ["code": v.code, "viewer": v.viewer, "message": v.message.hex, "sender": v.sender, "origin": v.origin?.hex ?? "",
         "viewed_at": Clock.rfc3339(ms: v.issuedAt), "node": v.node, "position": Int(v.position)]
    }
}

/// What a trace tool could not do, said for the person running it.
public struct TraceOutputError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension TraceOutput {
    /// What a trace tool prints: the JSON object or the text lines, and what it wrote.
    public struct Run {
        public var object: [String: Any]
        public var lines: [String]
        public var pictures: [String]
    }

    /// One run of `trace ID` or `trace --code CODE`, as both tools do it: a code is resolved first
    /// (at the node it names), then the message is traced; `ask` makes and checks one trace.
    /// - Throws: `TraceOutputError` when the code resolves to nobody; what `ask` or the pictures throw.
    public static func run(id: MessageID?, code: ViewerCode?, dotPath: String?, svgPath: String?,
                           ask: (Trace.Subject) throws -> TraceReport) throws -> Run {
        let started = Clock.monotonicNs()
        var object: [String: Any] = [:]
        var lines: [String] = []
        var messageID = id
        var viewer: TraceReport.Viewer?
        if let code {
            let report = try ask(.code(code.description))
            guard let found = report.viewers.first(where: { $0.code == code.description }) else {
                let why = report.tree.gaps.map { "\($0.node): \($0.reason)" }.joined(separator: "; ")
                throw TraceOutputError("code \(code) was not resolved: " + (why.isEmpty ? "\(code.node) has no record of it" : why))
            }
            viewer = found
            messageID = found.origin ?? found.message
            object["viewer"] = json(found)
            lines += viewerLines(found)
        }
        guard let messageID else { throw TraceOutputError("give a message id, or --code CODE") }
        let report = try ask(.message(messageID))
        let elapsed = Double(Clock.monotonicNs() - started) / 1e9
        object.merge(report.tree.jsonObject()) { a, _ in a }
        object["elapsed_s"] = elapsed
        if let viewer, let path = path(to: viewer.viewer, in: report.tree) {
            object["path"] = path.map { ["forwarder": $0.forwarder, "to": $0.to, "at": Clock.rfc3339(ms: $0.at)] }
            lines.append("  forward path: " + ([report.tree.origin?.sender ?? "?"] + path.map(\.forwarder) + [viewer.viewer])
                .joined(separator: " → "))
        }
        lines.append(report.tree.text())
        lines.append(String(format: "traced in %.2f s", elapsed))
        return Run(object: object, lines: lines, pictures: try writePictures(report.tree, dotPath: dotPath, svgPath: svgPath))
    }
}
