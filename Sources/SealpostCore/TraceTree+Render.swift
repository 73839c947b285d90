/// The three ways `trace` shows a tree: indented text, JSON, Graphviz DOT.
extension TraceTree {
    static func signatureText(_ s: Signature) -> String {
        switch s {
        case .valid: return "signature valid"
        case .forged: return "FORGED: the signature is not the forwarder's"
        case .unchecked(let why): return "signature not checked: \(why)"
        }
    }

    static func signatureName(_ s: Signature) -> String {
        switch s {
        case .valid: return "valid"
        case .forged: return "forged"
        case .unchecked: return "unchecked"
        }
    }

    /// The indented tree: one line per hop (who → whom, when, which unit, the signature and
    /// the nodes that countersigned it), then every gap.
    public func text() -> String {
        var lines: [String] = []
        if let o = origin {
            lines.append("message \(o.id.hex)")
            lines.append("origin: \(o.sender)" + (o.to.isEmpty ? "" : " → \(o.to)") + (o.at == 0 ? "" : "  \(Clock.rfc3339(ms: o.at))")
                         + "  unit \(o.unit)")
        } else {
            lines.append("origin: not reported by any node (none that answered holds a record of this message)")
        }
        func line(_ h: Hop, _ depth: Int) {
            let indent = String(repeating: "   ", count: depth)
            let whom = h.to.isEmpty ? "\(h.recipients) recipient\(h.recipients == 1 ? "" : "s")" : h.to.joined(separator: ", ")
            let signed = h.countersigned.sorted { $0.key < $1.key }.map { "\($0.key)#\($0.value)" }.joined(separator: " ")
            var text = "\(indent)└─ \(h.forwarder) → \(whom)  \(Clock.rfc3339(ms: h.at))  unit \(h.unit)  \(Self.signatureText(h.signature))"
            text += "  countersigned: \(signed)"
            if !h.missingFrom.isEmpty { text += "  GAP: not reported by \(h.missingFrom.joined(separator: ", "))" }
            lines.append(text)
            for c in h.children { line(c, depth + 1) }
        }
        for h in hops { line(h, 1) }
        if !orphans.isEmpty {
            lines.append("   ?? GAP: hops whose parent no node reported")
            for h in orphans { line(h, 2) }
        }
        let count = allHops.count
        let forged = allHops.filter { $0.signature == .forged }.count
        lines.append("\(count) hop\(count == 1 ? "" : "s")" + (forged > 0 ? ", \(forged) FORGED" : "")
                     + ", \(nodes.filter { !$0.isGap }.count) of \(nodes.count) nodes answered")
        for g in gaps { lines.append("GAP \(g.node): \(g.reason)") }
        return lines.joined(separator: "\n")
    }

    /// The tree as a JSON object (for scripts): `origin`, `hops` (nested `children`), `orphans`,
    /// `gaps`, `nodes`.
    public func jsonObject() -> [String: Any] {
        func hop(_ h: Hop) -> [String: Any] {
            var signature: [String: Any] = ["state": Self.signatureName(h.signature)]
            if case .unchecked(let why) = h.signature { signature["reason"] = why }
            return ["forward": h.forward.hex, "link": Hex.encode(h.link), "parent": Hex.encode(h.parent),
                    "forwarder": h.forwarder, "via": h.via, "to": h.to, "recipients": h.recipients, "unit": h.unit,
                    "at": Clock.rfc3339(ms: h.at), "signature": signature,
                    "countersigned": h.countersigned.sorted { $0.key < $1.key }.map { ["node": $0.key, "position": Int($0.value)] },
                    "missing_from": h.missingFrom, "children": h.children.map(hop)]
        }
        var object: [String: Any] = [
            "hops": hops.map(hop), "orphans": orphans.map(hop),
            "gaps": gaps.map { ["node": $0.node, "reason": $0.reason] },
            "nodes": nodes.map { n -> [String: Any] in
                switch n.state {
                case .answered(let records): return ["node": n.node, "state": "answered", "records": records]
                case .gap(let why): return ["node": n.node, "state": "gap", "reason": why]
                }
            },
            "hop_count": allHops.count, "forged": allHops.filter { $0.signature == .forged }.count,
        ]
        if let o = origin {
            var root: [String: Any] = ["id": o.id.hex, "sender": o.sender, "unit": o.unit]
            if !o.to.isEmpty { root["to"] = o.to }
            if o.at != 0 { root["at"] = Clock.rfc3339(ms: o.at) }
            object["origin"] = root
        }
        return object
    }

    /// The tree as a Graphviz digraph: a cluster per unit, an edge per hop (who → whom), forged
    /// hops red, gaps as dashed boxes.
    public func dot() -> String {
        func q(_ s: String) -> String {
            var out = "\""
            for c in s {
                if c == "\"" || c == "\\" { out.append("\\") }
                out.append(c == "\n" ? " " : c)
            }
            return out + "\""
        }
        var people = Set<String>()
        var edges: [String] = []
        if let o = origin { people.insert(o.sender); if !o.to.isEmpty { people.insert(o.to) } }
        func walk(_ h: Hop) {
            people.insert(h.forwarder)
            let targets = h.to.isEmpty ? ["\(h.recipients) recipient(s) of \(h.forwarder)"] : h.to
            for t in targets {
                people.insert(t)
                let time = String(Clock.rfc3339(ms: h.at).dropFirst(11).prefix(8))
                var attributes = "label=\(q(time))"
                if h.signature == .forged { attributes += ", color=red, fontcolor=red, penwidth=2, label=\(q("FORGED " + time))" }
                if case .unchecked = h.signature { attributes += ", style=dashed" }
                edges.append("  \(q(h.forwarder)) -> \(q(t)) [\(attributes)];")
            }
            h.children.forEach(walk)
        }
        hops.forEach(walk)
        orphans.forEach(walk)
        var lines = ["digraph trace {", "  rankdir=LR;", "  node [shape=box, fontname=\"sans-serif\"];",
                     "  edge [fontname=\"sans-serif\", fontsize=10];"]
        let units = Dictionary(grouping: people.sorted()) { Address($0)?.node ?? "?" }
        for (i, unit) in units.keys.sorted().enumerated() {
            lines.append("  subgraph cluster_\(i) {")
            lines.append("    label=\(q("unit " + unit));")
            for p in units[unit]! { lines.append("    \(q(p));") }
            lines.append("  }")
        }
        if let o = origin {
            lines.append("  \(q("origin")) [shape=ellipse, label=\(q("origin " + String(o.id.hex.prefix(8))))];")
            lines.append("  \(q("origin")) -> \(q(o.sender)) [style=dotted];")
            if !o.to.isEmpty {
                lines.append("  \(q(o.sender)) -> \(q(o.to)) [label=\(q("sent " + String(Clock.rfc3339(ms: o.at).dropFirst(11).prefix(8)))), style=bold];")
            }
        }
        lines += edges
        for (i, g) in gaps.enumerated() {
            lines.append("  \(q("gap\(i)")) [shape=box, style=dashed, color=orange, label=\(q("GAP " + g.node + ": " + g.reason))];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}
