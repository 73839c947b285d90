import Foundation
import SealpostCore

/// What a client puts on every rendering of burn content: the viewer's own
/// identity and the time, so that a photo of the screen names who leaked it.
public enum Watermark {
    /// The line shown with burn text (and written over burn images).
    public static func line(viewer: String, at ms: UInt64) -> String {
        "VIEWED BY \(viewer) AT \(Clock.rfc3339(ms: ms)) — BURN AFTER READING, DO NOT COPY"
    }

    /// The line shown with every view of an image or file: the viewer, the time and the viewer
    /// code their node issued for this view (`Client.viewerMark`), which an officer resolves with
    /// `sealpost trace --code` from a photo of the screen.
    public static func line(viewer: String, at ms: UInt64, code: String, burn: Bool) -> String {
        "VIEWED BY \(viewer) AT \(Clock.rfc3339(ms: ms)) · CODE \(code) — " + (burn ? "BURN AFTER READING, DO NOT COPY" : "DO NOT COPY")
    }

    /// An SVG that shows `image` with `text` written across it, repeated and
    /// rotated, over the whole picture. Any browser or image viewer renders it;
    /// no image library is needed. The original bytes are inside (base64), so this
    /// deters, it does not prevent: a person who edits the file can remove the text.
    /// - Returns: nil when `image` is not a PNG, JPEG, GIF or WebP picture.
    public static func svg(image: [UInt8], text: String) -> [UInt8]? {
        guard let info = ImageInfo(image) else { return nil }
        let w = max(info.width, 1), h = max(info.height, 1)
        let fontSize = max(12, min(w, h) / 24)
        let escaped = text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
        // The line along the bottom is squeezed to the picture's width when it would not fit.
        let fits = Double(text.count * fontSize) * 0.6 <= Double(w - fontSize)
        let squeeze = fits ? "" : " textLength=\"\(w - fontSize)\" lengthAdjust=\"spacingAndGlyphs\""
        var rows = ""
        let step = fontSize * 4
        var y = -h
        while y < 2 * h {
            rows += "<text x=\"\(-w)\" y=\"\(y)\">\(escaped)  ·  \(escaped)  ·  \(escaped)</text>\n"
            y += step
        }
        let svg = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="\(w)" height="\(h)" viewBox="0 0 \(w) \(h)">
            <image width="\(w)" height="\(h)" xlink:href="data:\(info.mime);base64,\(Data(image).base64EncodedString())"/>
            <g transform="rotate(-30 \(w / 2) \(h / 2))" font-family="sans-serif" font-size="\(fontSize)" font-weight="bold" fill="#ff0000" fill-opacity="0.35" stroke="#ffffff" stroke-opacity="0.35" stroke-width="1">
            \(rows)</g>
            <rect x="0" y="\(h - fontSize * 2)" width="\(w)" height="\(fontSize * 2)" fill="#000000" fill-opacity="0.6"/>
            <text x="\(fontSize / 2)" y="\(h - fontSize / 2)" font-family="sans-serif" font-size="\(fontSize)" fill="#ffffff"\(squeeze)>\(escaped)</text>
            </svg>

            """
        return Array(svg.utf8)
    }
}

/// The type and size of a picture, read from its header bytes.
public struct ImageInfo: Sendable, Equatable {
    public var mime: String
    public var width: Int
    public var height: Int

    /// - Returns: nil when the bytes are not a PNG, JPEG, GIF or WebP picture.
    public init?(_ b: [UInt8]) {
        func be16(_ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
        func be32(_ i: Int) -> Int { be16(i) << 16 | be16(i + 2) }
        func le16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func le24(_ i: Int) -> Int { le16(i) | Int(b[i + 2]) << 16 }
        if b.count >= 24, b.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self.init(mime: "image/png", width: be32(16), height: be32(20))
        } else if b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 {
            // Walk the JPEG segments to the first start-of-frame marker.
            var i = 2
            while i + 9 < b.count {
                guard b[i] == 0xFF else { return nil }
                let marker = b[i + 1]
                if marker == 0xFF { i += 1; continue }
                if (0xC0...0xCF).contains(marker), marker != 0xC4, marker != 0xC8, marker != 0xCC {
                    self.init(mime: "image/jpeg", width: be16(i + 7), height: be16(i + 5))
                    return
                }
                if marker == 0xD8 || (0xD0...0xD7).contains(marker) { i += 2; continue }
                i += 2 + be16(i + 2)
            }
            return nil
        } else if b.count >= 10, b.starts(with: Array("GIF8".utf8)) {
            self.init(mime: "image/gif", width: le16(6), height: le16(8))
        } else if b.count >= 30, b.starts(with: Array("RIFF".utf8)), Array(b[8..<12]) == Array("WEBP".utf8) {
            switch String(decoding: b[12..<16], as: UTF8.self) {
            case "VP8X": self.init(mime: "image/webp", width: le24(24) + 1, height: le24(27) + 1)
            case "VP8L": self.init(mime: "image/webp", width: (le16(21) & 0x3FFF) + 1, height: ((le24(22) >> 6) & 0x3FFF) + 1)
            case "VP8 ": self.init(mime: "image/webp", width: le16(26) & 0x3FFF, height: le16(28) & 0x3FFF)
            default: return nil
            }
        } else {
            return nil
        }
    }

    public init(mime: String, width: Int, height: Int) {
        self.mime = mime
        self.width = width
        self.height = height
    }
}
