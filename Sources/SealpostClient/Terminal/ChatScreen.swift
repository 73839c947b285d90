import Foundation
import SealpostCore

/// What `sealpost chat` writes, as pure logic: the line being typed stays whole at the
/// bottom (incoming lines are written above it and the prompt and input redrawn), own lines
/// carry their time and state, and a state that moves on is updated in place on a terminal
/// (or said on a line of its own when the output is not one, or the line has scrolled away).
///
/// Each function returns the bytes to write; nothing here does I/O.
public struct ChatScreen {
    /// Whether the output is a terminal (ANSI: `ESC[K` clears the line, `ESC 7`/`ESC 8` save and restore the cursor).
    public let terminal: Bool
    public var width: Int
    public var height: Int
    public var prompt = "> "
    /// The line being typed (terminal only).
    public private(set) var input: [Character] = []
    /// Pending bytes of a UTF-8 character or an escape sequence being typed.
    private var pending: [UInt8] = []
    private var inEscape = false

    /// Own lines still shown, with the screen rows written after them.
    private struct Own {
        var time: String
        var text: String
        var state: String
        var rowsBelow: Int
        var rows: Int
    }
    private var own: [MessageID: Own] = [:]

    public init(terminal: Bool, width: Int = 80, height: Int = 24) {
        self.terminal = terminal
        self.width = max(width, 10)
        self.height = max(height, 2)
    }

    /// What a key press did.
    public enum Key: Equatable {
        case line(String)
        case end
    }

    // MARK: typing (terminal only: elsewhere lines are read whole)

    /// Takes typed bytes (raw mode): editing keys, Enter, Ctrl-D on an empty line, Ctrl-C.
    /// - Returns: the lines entered (and `end`), and the bytes to write (the input redrawn).
    public mutating func type(_ bytes: [UInt8]) -> (keys: [Key], output: String) {
        var keys: [Key] = []
        var out = ""
        for b in bytes {
            if inEscape {
                // CSI and SS3 sequences (arrows, function keys): skipped up to their final byte.
                if pending.isEmpty && (b == 0x5B || b == 0x4F) { pending.append(b); continue }
                pending.removeAll()
                if b >= 0x40 && b <= 0x7E { inEscape = false }
                continue
            }
            switch b {
            case 0x1B: inEscape = true; pending.removeAll()
            case 0x0D, 0x0A:
                let line = String(input)
                input.removeAll()
                out += "\r\u{1B}[K"
                keys.append(.line(line))
            case 0x7F, 0x08:
                if !input.isEmpty { input.removeLast() }
                out += redraw
            case 0x15: input.removeAll(); out += redraw
            case 0x03: keys.append(.end)
            case 0x04: if input.isEmpty { keys.append(.end) }
            case 0x00..<0x20: break
            default:
                pending.append(b)
                if let s = String(bytes: pending, encoding: .utf8) {
                    input.append(contentsOf: s)
                    pending.removeAll()
                    out += redraw
                } else if pending.count >= 4 {
                    pending.removeAll()
                }
            }
        }
        return (keys, out)
    }

    /// The prompt and the input, on a cleared line.
    var redraw: String { "\r\u{1B}[K" + prompt + String(input) }

    // MARK: output

    /// Lines to show above the input (incoming messages, notices).
    public mutating func show(_ lines: [String]) -> String {
        guard !lines.isEmpty else { return "" }
        let text = lines.map { $0 + "\n" }.joined()
        guard terminal else { return text }
        wrote(lines)
        return "\r\u{1B}[K" + text + prompt + String(input)
    }

    /// An own line, just sent: its time and state (`sending` until the node stores it).
    public mutating func sent(_ id: MessageID, text: String, at ms: UInt64) -> String {
        let line = Own(time: Self.clock(ms), text: text, state: "sending", rowsBelow: 0, rows: 0)
        let shown = Self.render(line)
        let out = show([shown])
        own[id] = Own(time: line.time, text: text, state: line.state, rowsBelow: 0, rows: rows(shown))
        if own.count > 500, let oldest = own.max(by: { $0.value.rowsBelow < $1.value.rowsBelow })?.key { own[oldest] = nil }
        return out
    }

    /// An own line's state moved on (`stored on your node`, `delivered`, `seen`, or a group's counts).
    public mutating func update(_ id: MessageID, state: String) -> String {
        guard var line = own[id], line.state != state else { return "" }
        line.state = state
        own[id] = line
        if terminal, line.rowsBelow + line.rows < height {
            // Up to the line, rewrite it, back down: the input is not disturbed.
            let up = line.rowsBelow + line.rows
            return "\u{1B}7\u{1B}[\(up)A\r\u{1B}[K" + Self.render(line) + "\u{1B}8"
        }
        return show(["* \(state): \(line.text)"])
    }

    private static func render(_ line: Own) -> String { "[\(line.time)] you: \(line.text)  · \(line.state)" }

    /// Local time as HH:MM:SS.
    public static func clock(_ ms: UInt64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "HH:mm:ss"
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    private mutating func wrote(_ lines: [String]) {
        let added = lines.reduce(0) { $0 + rows($1) }
        for key in own.keys { own[key]!.rowsBelow += added }
    }

    /// Screen rows a line takes (wide characters count two columns).
    func rows(_ line: String) -> Int {
        let columns = line.unicodeScalars.reduce(0) { $0 + (Self.isWide($1) ? 2 : 1) }
        return max(1, (columns + width - 1) / width)
    }

    static func isWide(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x1100...0x115F, 0x2E80...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
             0xFFE0...0xFFE6, 0x1F300...0x1FAFF, 0x20000...0x3FFFD: return true
        default: return false
        }
    }
}
