import Sodium

/// The federated trace (protocol/SPEC.md 11.7): a node asks every node it knows what
/// they countersigned for one message, or who a viewer code names; each node answers
/// from its own audit log under its own operator's policy.
public enum Trace {
    /// What a trace asks about.
    public enum Subject: Sendable, Equatable, Hashable {
        /// The forward tree of a message: every hop record a node countersigned for it.
        case message(MessageID)
        /// The viewer a watermark's code names (asked of the node the code names).
        case code(String)

        public var kindByte: UInt8 {
            switch self {
            case .message: return 1
            case .code: return 2
            }
        }

        func encode(into w: inout WireWriter) {
            w.u8(kindByte)
            switch self {
            case .message(let id): w.octets(id.bytes)
            case .code(let code): w.string(code)
            }
        }

        static func decode(from r: inout WireReader) throws -> Subject {
            switch try r.u8("subject_kind") {
            case 1: return .message(MessageID(bytes: try r.octets(16, "subject"))!)
            case 2:
                let code = try r.string("subject")
                guard ViewerCode(code) != nil else { throw WireError.invalid(field: "subject", reason: "not a viewer code") }
                return .code(code)
            case let k: throw WireError.invalid(field: "subject_kind", reason: "\(k) is not 1 (message) or 2 (code)")
            }
        }

        public var description: String {
            switch self {
            case .message(let id): return id.hex
            case .code(let code): return code
            }
        }
    }

    /// A query and answer pass at most this many nodes (a routing loop ends there).
    public static let maxHops: UInt8 = 16
    /// Most records one answer carries (what does not fit is left out and said so).
    public static let maxRecords = 4096
    /// Largest record, proof or head in an answer.
    public static let maxRecordBytes = 64 * 1024
    /// Largest answer body.
    public static let maxAnswerBytes = 4 * 1024 * 1024

    /// A trace query, signed by the node that asks (`origin`), for one node (`dest`).
    ///
    /// Signed bytes: `"sealpost trace query v1" || query_id || origin || dest || asked_at ||
    /// officer || subject` (every field but `hops` and the signature).
    public struct Query: Sendable, Equatable {
        public var queryId: [UInt8]
        public var origin: String
        public var dest: String
        /// Milliseconds since the epoch, by the asking node's clock.
        public var askedAt: UInt64
        /// The officer who asked (`user@node`), or empty for the node's operator.
        public var officer: String
        public var subject: Subject
        public var signature: [UInt8]

        static let context = Array("sealpost trace query v1".utf8)

        public init(queryId: [UInt8], origin: String, dest: String, askedAt: UInt64, officer: String, subject: Subject,
                    signature: [UInt8] = [UInt8](repeating: 0, count: 64)) {
            self.queryId = queryId
            self.origin = origin
            self.dest = dest
            self.askedAt = askedAt
            self.officer = officer
            self.subject = subject
            self.signature = signature
        }

        public var signedBytes: [UInt8] {
            var w = WireWriter()
            w.octets(Self.context)
            w.octets(queryId); w.string(origin); w.string(dest); w.u64(askedAt); w.string(officer)
            subject.encode(into: &w)
            return w.bytes
        }

        public mutating func sign(with key: SignKeyPair) { signature = key.sign(signedBytes) }

        public func verify(nodeKey: [UInt8]) -> Bool {
            SignKeyPair.verify(signature: signature, message: signedBytes, publicKey: nodeKey)
        }

        func encode(into w: inout WireWriter, hops: UInt8) {
            w.octets(queryId); w.string(origin); w.string(dest); w.u8(hops); w.u64(askedAt); w.string(officer)
            subject.encode(into: &w)
            w.octets(signature)
        }

        static func decode(from r: inout WireReader) throws -> (Query, hops: UInt8) {
            let queryId = try r.octets(16, "query_id")
            let origin = try nodeName(&r, "origin"), dest = try nodeName(&r, "dest")
            guard origin != dest else { throw WireError.invalid(field: "dest", reason: "the same node as origin") }
            let hops = try r.u8("hops")
            let askedAt = try r.u64("asked_at")
            let officer = try r.string("officer")
            guard officer.isEmpty || Address(officer)?.node == origin else {
                throw WireError.invalid(field: "officer", reason: "not empty and not a user of the origin node")
            }
            let subject = try Subject.decode(from: &r)
            let signature = try r.octets(64, "signature")
            return (Query(queryId: queryId, origin: origin, dest: dest, askedAt: askedAt, officer: officer, subject: subject,
                          signature: signature), hops)
        }
    }

    /// One record of the answering node's audit log, where it stands and the proof that it is
    /// under the signed head (as the audit log encodes them; SPEC 15.7).
    public struct Record: Sendable, Equatable {
        public var position: UInt64
        public var record: [UInt8]
        public var proof: [UInt8]
        public init(position: UInt64, record: [UInt8], proof: [UInt8]) {
            self.position = position
            self.record = record
            self.proof = proof
        }
    }

    /// How a node answered.
    public enum Status: UInt8, Sendable, Equatable {
        /// The records it holds for the subject (maybe none).
        case answered = 0
        /// Its operator's policy does not answer this asker; `reason` says which rule.
        case refused = 1
    }

    /// What a node answers, signed by it: the records of its audit log about the subject, their
    /// positions and proofs, and its signed audit head; or a refusal. The asker's officer checks
    /// it with the key their own node holds for the answering node.
    ///
    /// Signed bytes: `"sealpost trace answer v1" ||` the encoded body up to the signature.
    public struct Answer: Sendable, Equatable {
        public var queryId: [UInt8]
        public var node: String
        public var asker: String
        public var subject: Subject
        public var status: Status
        public var reason: String
        public var answeredAt: UInt64
        public var records: [Record]
        /// The node's signed audit head the proofs lead to (empty for a refusal).
        public var head: [UInt8]
        /// Records left out (over `maxRecords`).
        public var truncated: UInt32
        public var signature: [UInt8]

        static let context = Array("sealpost trace answer v1".utf8)

        public init(queryId: [UInt8], node: String, asker: String, subject: Subject, status: Status, reason: String = "",
                    answeredAt: UInt64, records: [Record] = [], head: [UInt8] = [], truncated: UInt32 = 0,
                    signature: [UInt8] = [UInt8](repeating: 0, count: 64)) {
            self.queryId = queryId
            self.node = node
            self.asker = asker
            self.subject = subject
            self.status = status
            self.reason = reason
            self.answeredAt = answeredAt
            self.records = records
            self.head = head
            self.truncated = truncated
            self.signature = signature
        }

        var unsigned: [UInt8] {
            var w = WireWriter(capacity: 256 + records.reduce(0) { $0 + 16 + $1.record.count + $1.proof.count } + head.count)
            w.octets(queryId); w.string(node); w.string(asker)
            subject.encode(into: &w)
            w.u8(status.rawValue); w.string(reason.truncatedUTF8(255)); w.u64(answeredAt)
            w.u16(UInt16(records.count))
            for r in records { w.u64(r.position); w.longstr(r.record); w.longstr(r.proof) }
            w.longstr(head)
            w.u32(truncated)
            return w.bytes
        }

        public var signedBytes: [UInt8] { Self.context + unsigned }

        public mutating func sign(with key: SignKeyPair) { signature = key.sign(signedBytes) }

        public func verify(nodeKey: [UInt8]) -> Bool {
            SignKeyPair.verify(signature: signature, message: signedBytes, publicKey: nodeKey)
        }

        /// The body as it travels in TRACE-ANSWER and TRACE-RESULT.
        public func encode() -> [UInt8] { unsigned + signature }

        public static func decode(_ bytes: [UInt8]) throws -> Answer {
            var r = WireReader(bytes)
            let queryId = try r.octets(16, "query_id")
            let node = try nodeName(&r, "node"), asker = try nodeName(&r, "asker")
            let subject = try Subject.decode(from: &r)
            let rawStatus = try r.u8("status")
            guard let status = Status(rawValue: rawStatus) else {
                throw WireError.invalid(field: "status", reason: "\(rawStatus) is not 0 (answered) or 1 (refused)")
            }
            let reason = try r.string("reason")
            let answeredAt = try r.u64("answered_at")
            let n = Int(try r.u16("count"))
            guard n <= maxRecords else { throw WireError.invalid(field: "count", reason: "\(n) records, limit \(maxRecords)") }
            var records: [Record] = []
            records.reserveCapacity(n)
            for _ in 0..<n {
                let position = try r.u64("position")
                records.append(Record(position: position, record: try r.longstr("record", max: maxRecordBytes),
                                      proof: try r.longstr("proof", max: maxRecordBytes)))
            }
            let head = try r.longstr("head", max: maxRecordBytes)
            let truncated = try r.u32("truncated")
            let signature = try r.octets(64, "signature")
            try r.expectEnd()
            guard status == .answered || records.isEmpty else {
                throw WireError.invalid(field: "count", reason: "a refusal carries no records")
            }
            return Answer(queryId: queryId, node: node, asker: asker, subject: subject, status: status, reason: reason,
                          answeredAt: answeredAt, records: records, head: head, truncated: truncated, signature: signature)
        }
    }

    static func nodeName(_ r: inout WireReader, _ field: String) throws -> String {
        let s = try r.string(field)
        guard Name.isValid(s) else { throw WireError.invalid(field: field, reason: "not a node name") }
        return s
    }

    /// What became of the question to one node, as the asking node reports it to its officer.
    public enum NodeState: UInt8, Sendable, Equatable {
        /// Its signed answer is attached (an answer or a refusal: the officer's tool checks it).
        case answered = 0
        /// No answer within the trace's time.
        case timedOut = 1
        /// The asking node has no route to it.
        case unreachable = 2
        /// The answer that came back does not decode or is not signed by that node.
        case badAnswer = 3

        public var name: String {
            switch self {
            case .answered: return "answered"
            case .timedOut: return "no answer in time"
            case .unreachable: return "no route"
            case .badAnswer: return "bad answer"
            }
        }
    }

    /// One node's part of a TRACE-RESULT: its state and, when it answered, the signed answer.
    public struct NodeResult: Sendable, Equatable {
        public var node: String
        public var state: NodeState
        /// `Answer.encode()` as the node signed it (empty unless answered).
        public var answer: [UInt8]
        public init(node: String, state: NodeState, answer: [UInt8] = []) {
            self.node = node
            self.state = state
            self.answer = answer
        }
    }

    /// Operations of the client's TRACE (protocol/SPEC.md 6.28).
    public enum Operation: UInt8, Sendable, Equatable {
        /// Officers: the forward tree of a message across the federation.
        case message = 1
        /// Officers: resolve a viewer code (asked of the node it names).
        case code = 2
        /// Any user: issue a viewer code for a view of content the user is opening now.
        case mark = 3
    }
}

extension Command {
    static func decodeTrace(_ id: CommandID, _ r: inout WireReader) throws -> Command {
        let requestId = try r.u32("request_id")
        let rawOp = try r.u8("op")
        guard let op = Trace.Operation(rawValue: rawOp) else {
            throw WireError.invalid(field: "op", reason: "\(rawOp) is not 1 (message), 2 (code) or 3 (mark)")
        }
        if id == .trace {
            let subject = try Trace.Subject.decode(from: &r)
            switch (op, subject) {
            case (.message, .message), (.mark, .message), (.code, .code): break
            default: throw WireError.invalid(field: "subject_kind", reason: "does not go with op \(rawOp)")
            }
            return .trace(requestId: requestId, op: op, subject: subject)
        }
        let code = try r.string("code")
        let n = Int(try r.u16("count"))
        var nodes: [Trace.NodeResult] = []
        for _ in 0..<n {
            let node = try Trace.nodeName(&r, "node")
            let rawState = try r.u8("state")
            guard let state = Trace.NodeState(rawValue: rawState) else {
                throw WireError.invalid(field: "state", reason: "\(rawState) is not a node state (0-3)")
            }
            let answer = try r.longstr("answer", max: Trace.maxAnswerBytes)
            guard (state == .answered) == !answer.isEmpty else {
                throw WireError.invalid(field: "answer", reason: "present exactly when the state is answered")
            }
            nodes.append(Trace.NodeResult(node: node, state: state, answer: answer))
        }
        return .traceResult(requestId: requestId, op: op, code: code, nodes: nodes)
    }
}
