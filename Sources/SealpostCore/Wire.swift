/// Errors a peer's bytes can cause while decoding. Never a crash.
public enum WireError: Error, Equatable, CustomStringConvertible {
    case truncated(field: String)
    case badSignature
    case unsupportedVersion(UInt8)
    case unknownCommand(UInt8)
    case invalid(field: String, reason: String)
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .truncated(let field): return "truncated frame (at \(field))"
        case .badSignature: return "not a Sealpost frame (bad signature)"
        case .unsupportedVersion(let v): return "unsupported protocol version \(v)"
        case .unknownCommand(let c): return "unknown command 0x\(String(c, radix: 16))"
        case .invalid(let field, let reason): return "invalid \(field): \(reason)"
        case .trailingBytes(let n): return "\(n) unexpected bytes after the last field"
        }
    }
}

/// Writes the field types of the protocol (protocol/SPEC.md, "Field types"):
/// big-endian integers, `string` (1-byte length), `longstr` (4-byte length),
/// fixed-size `octets`.
public struct WireWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xff)) }
    public mutating func u32(_ v: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((v >> UInt32(shift)) & 0xff)) }
    }
    public mutating func u64(_ v: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((v >> UInt64(shift)) & 0xff)) }
    }
    public mutating func octets(_ v: [UInt8]) { bytes.append(contentsOf: v) }

    /// A short string: 1-byte length then UTF-8. Callers validate length ≤ 255.
    public mutating func string(_ v: String) {
        let utf8 = Array(v.utf8)
        precondition(utf8.count <= 255, "string field over 255 bytes")
        u8(UInt8(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A long byte string: 4-byte length then the bytes.
    public mutating func longstr(_ v: [UInt8]) {
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }
}

/// Reads the field types of the protocol from a frame, checking every length.
public struct WireReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int, _ field: String) throws -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else { throw WireError.truncated(field: field) }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    public mutating func u8(_ field: String) throws -> UInt8 { try take(1, field).first! }
    public mutating func u16(_ field: String) throws -> UInt16 {
        try take(2, field).reduce(0) { $0 << 8 | UInt16($1) }
    }
    public mutating func u32(_ field: String) throws -> UInt32 {
        try take(4, field).reduce(0) { $0 << 8 | UInt32($1) }
    }
    /// Largest value of a `u64` field (2^63 − 1, protocol/SPEC.md "Field types"): every
    /// u64 of the protocol is a time, a size, a counter or an id that a node stores as
    /// a signed 64-bit SQLite integer, so a larger one makes the frame malformed.
    public static let maxU64: UInt64 = UInt64(Int64.max)

    /// A `u64` field; 2^63 or more is refused (`maxU64`).
    public mutating func u64(_ field: String) throws -> UInt64 {
        let v = try take(8, field).reduce(0) { $0 << 8 | UInt64($1) }
        guard v <= Self.maxU64 else { throw WireError.invalid(field: field, reason: "\(v) is 2^63 or more") }
        return v
    }
    public mutating func octets(_ n: Int, _ field: String) throws -> [UInt8] { Array(try take(n, field)) }

    public mutating func string(_ field: String) throws -> String {
        let n = Int(try u8(field))
        let raw = try take(n, field)
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw WireError.invalid(field: field, reason: "not UTF-8")
        }
        return s
    }

    public mutating func longstr(_ field: String, max: Int) throws -> [UInt8] {
        let n = Int(try u32(field))
        guard n <= max else { throw WireError.invalid(field: field, reason: "\(n) bytes, limit \(max)") }
        return Array(try take(n, field))
    }

    public func expectEnd() throws {
        if remaining != 0 { throw WireError.trailingBytes(remaining) }
    }
}
