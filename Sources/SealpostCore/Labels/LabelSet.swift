import Sodium

/// One classification label of a federation's ordered set (protocol/SPEC.md 7.11).
public struct Label: Sendable, Equatable {
    /// The name people see first: 公开, 内部, 敏感, …
    public var name: String
    /// The English name (also accepted wherever a label is named): public, internal, …
    public var english: String
    /// A state-secret class (秘密 / 机密 / 绝密): a node carries it only if accredited for it.
    public var stateSecret: Bool

    public init(name: String, english: String, stateSecret: Bool = false) {
        self.name = name
        self.english = english
        self.stateSecret = stateSecret
    }

    /// `敏感 sensitive`, as the CLI and the web UI show it.
    public var display: String { "\(name) \(english)" }
}

/// The ordered set of labels, lowest first; a label travels as its rank (index) in the set,
/// so every node of a federation must hold the same set (peers compare `digest` in HELLO).
public struct LabelSet: Sendable, Equatable {
    public let labels: [Label]
    /// At most 16 labels (a rank fits in 4 bits; the wire carries a `u8`).
    public static let maxLabels = 16

    public init(_ labels: [Label]) throws {
        guard (1...Self.maxLabels).contains(labels.count) else {
            throw LabelError.invalid("a label set holds 1 to \(Self.maxLabels) labels, not \(labels.count)")
        }
        var seen = Set<String>()
        for l in labels {
            for n in [l.name, l.english.lowercased()] {
                guard !n.isEmpty, n.utf8.count <= 64 else { throw LabelError.invalid("a label name must be 1 to 64 bytes") }
                guard seen.insert(n).inserted else { throw LabelError.invalid("label '\(n)' is named twice") }
            }
        }
        self.labels = labels
    }

    /// 公开 public < 内部 internal < 敏感 sensitive < 工作秘密 work-secret, then the state-secret
    /// classes 秘密 secret < 机密 confidential < 绝密 top-secret, which a node carries only if accredited.
    public static let standard = try! LabelSet([
        Label(name: "公开", english: "public"),
        Label(name: "内部", english: "internal"),
        Label(name: "敏感", english: "sensitive"),
        Label(name: "工作秘密", english: "work-secret"),
        Label(name: "秘密", english: "secret", stateSecret: true),
        Label(name: "机密", english: "confidential", stateSecret: true),
        Label(name: "绝密", english: "top-secret", stateSecret: true),
    ])

    public var count: Int { labels.count }

    /// The rank of a label named by its name, its English name (any case) or its rank in digits.
    public func rank(of text: String) -> UInt8? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let i = labels.firstIndex(where: { $0.name == t || $0.english.lowercased() == t.lowercased() }) { return UInt8(i) }
        if let n = UInt8(t), Int(n) < labels.count { return n }
        return nil
    }

    public func contains(_ rank: UInt8) -> Bool { Int(rank) < labels.count }

    /// The label of `rank`, or nil outside the set.
    public subscript(rank: UInt8) -> Label? { contains(rank) ? labels[Int(rank)] : nil }

    /// `敏感 sensitive`, or `label 9` for a rank outside the set.
    public func display(_ rank: UInt8) -> String { self[rank]?.display ?? "label \(rank)" }

    /// `count:u8 *(name:string english:string state_secret:u8)`.
    public func encode(into w: inout WireWriter) {
        w.u8(UInt8(labels.count))
        for l in labels { w.string(l.name); w.string(l.english); w.u8(l.stateSecret ? 1 : 0) }
    }

    public static func decode(from r: inout WireReader) throws -> LabelSet {
        let n = Int(try r.u8("labels.count"))
        guard (1...maxLabels).contains(n) else { throw WireError.invalid(field: "labels.count", reason: "1 to \(maxLabels) labels") }
        var labels: [Label] = []
        for _ in 0..<n {
            let name = try r.string("label.name"), english = try r.string("label.english"), flag = try r.u8("label.state_secret")
            guard flag <= 1 else { throw WireError.invalid(field: "label.state_secret", reason: "must be 0 or 1") }
            labels.append(Label(name: name, english: english, stateSecret: flag == 1))
        }
        do { return try LabelSet(labels) } catch { throw WireError.invalid(field: "labels", reason: "\(error)") }
    }

    /// What peers compare when they connect: BLAKE2b-128 of `"sealpost-labels-v1" || encoding`.
    public var digest: [UInt8] {
        var w = WireWriter()
        encode(into: &w)
        return Sodium.genericHash(Array("sealpost-labels-v1".utf8) + w.bytes, outputLength: 16)
    }
}

public enum LabelError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let m): return m
        }
    }
}

/// The label an envelope carries in its clear header (protocol/SPEC.md 7.1, 7.11): present when
/// flag bit 3 (`Envelope.labelledFlag`) is set, and repeated inside the end-to-end body.
public struct EnvelopeLabel: Sendable, Equatable, Hashable {
    /// Rank in the federation's label set.
    public var rank: UInt8
    /// 保密期限, "readable until": milliseconds since the epoch, 0 for none. At that time the
    /// content is deleted from the recipients' nodes and clients, as burn content is.
    public var readableUntil: UInt64

    public init(rank: UInt8, readableUntil: UInt64 = 0) {
        self.rank = rank
        self.readableUntil = readableUntil
    }

    public static let encodedBytes = 9
}

import Foundation

/// What LABELS tells a client (section 7.11.4): the federation's set, its node's default label and
/// ceiling, which state-secret classes the node is accredited for, and the person's own clearance.
/// `set default:u8 ceiling:u8 accredited:u16 clearance:u8 [expiry]`, where the optional last
/// field `expiry = count:u8 *(rank:u8 seconds:u64)` is the node's 保密期限 per label (7.11.9).
public struct LabelInfo: Sendable, Equatable {
    public var set: LabelSet
    public var defaultRank: UInt8
    public var ceiling: UInt8
    public var accredited: UInt16
    public var clearance: UInt8
    /// The node's readable period per label (absent from nodes that predate it: none).
    public var expiry: LabelExpiry

    public init(set: LabelSet, defaultRank: UInt8, ceiling: UInt8, accredited: UInt16, clearance: UInt8,
                expiry: LabelExpiry = LabelExpiry()) {
        self.set = set
        self.defaultRank = defaultRank
        self.ceiling = ceiling
        self.accredited = accredited
        self.clearance = clearance
        self.expiry = expiry
    }

    public func encode(into w: inout WireWriter) {
        set.encode(into: &w)
        w.u8(defaultRank); w.u8(ceiling); w.u16(accredited); w.u8(clearance)
        expiry.encode(into: &w)
    }

    public static func decode(from r: inout WireReader) throws -> LabelInfo {
        let set = try LabelSet.decode(from: &r)
        var info = LabelInfo(set: set, defaultRank: try r.u8("default"), ceiling: try r.u8("ceiling"),
                             accredited: try r.u16("accredited"), clearance: try r.u8("clearance"))
        for (field, rank) in [("default", info.defaultRank), ("ceiling", info.ceiling), ("clearance", info.clearance)] where !set.contains(rank) {
            throw WireError.invalid(field: field, reason: "rank \(rank) is not in the label set")
        }
        if r.remaining > 0 { info.expiry = try LabelExpiry.decode(from: &r, set: set) }
        return info
    }

    /// The node's rules as a policy (for the client's own checks).
    public var policy: LabelPolicy {
        var p = LabelPolicy(set: set, defaultRank: defaultRank, ceiling: ceiling)
        p.accredited = accredited
        p.expiry = expiry
        return p
    }
}
