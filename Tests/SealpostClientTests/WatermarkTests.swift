import SealpostClient
import SealpostCore
import SealpostTestSupport
import XCTest

/// Reading picture sizes from their headers, and the watermarked SVG of a burn image.
final class WatermarkTests: XCTestCase {
    func testImageSizesFromHeaders() {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8) + [0, 0, 2, 0, 0, 0, 1, 0x2C]
        XCTAssertEqual(ImageInfo(png), ImageInfo(mime: "image/png", width: 512, height: 300))
        // JPEG: SOI, an APP0 segment, then SOF0 with height 480 and width 640.
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 17, 8, 0x01, 0xE0, 0x02, 0x80, 3, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(ImageInfo(jpeg), ImageInfo(mime: "image/jpeg", width: 640, height: 480))
        let gif = Array("GIF89a".utf8) + [0x40, 0x01, 0xC8, 0x00]
        XCTAssertEqual(ImageInfo(gif), ImageInfo(mime: "image/gif", width: 320, height: 200))
        var webp = Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8X".utf8) + [UInt8](repeating: 0, count: 18)
        webp[24] = 0x7F; webp[25] = 0x02 // width - 1 = 639
        webp[27] = 0xDF; webp[28] = 0x01 // height - 1 = 479
        XCTAssertEqual(ImageInfo(webp), ImageInfo(mime: "image/webp", width: 640, height: 480))
        XCTAssertNil(ImageInfo(Array("hello, not a picture".utf8)))
        XCTAssertNil(ImageInfo([0xFF, 0xD8, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]), "a JPEG whose segments do not parse")
        XCTAssertNil(ImageInfo([]))
    }

    func testDamagedHeadersNeverCrash() {
        var rng = SplitMix64(state: 0x1A6E)
        for _ in 0..<20_000 {
            var bytes = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if Bool.random(using: &rng), bytes.count >= 2 { bytes[0] = 0xFF; bytes[1] = 0xD8 }
            _ = ImageInfo(bytes)
        }
    }

    func testSVGShowsThePictureUnderTheViewersWatermark() throws {
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8) + [0, 0, 0, 64, 0, 0, 0, 48]
        let line = Watermark.line(viewer: "wu@traffic", at: 1_764_000_000_000)
        XCTAssertTrue(line.contains("wu@traffic"))
        XCTAssertTrue(line.contains("2025-11-24T16:00:00.000Z"))
        let svg = String(decoding: try XCTUnwrap(Watermark.svg(image: png, text: line + " <&>")), as: UTF8.self)
        XCTAssertTrue(svg.contains("width=\"64\" height=\"48\""))
        XCTAssertTrue(svg.contains("data:image/png;base64,\(Data(png).base64EncodedString())"))
        XCTAssertTrue(svg.contains("wu@traffic"))
        XCTAssertTrue(svg.contains("&lt;&amp;&gt;"), "text is escaped")
        XCTAssertFalse(svg.contains(" <&>"))
        XCTAssertNil(Watermark.svg(image: Array("text".utf8), text: line))
    }
}
