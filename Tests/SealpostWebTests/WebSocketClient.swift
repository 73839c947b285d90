import Foundation
@testable import SealpostWeb

/// A minimal WebSocket client over a real loopback socket: the handshake with exactly the
/// headers given, then text frames from the server (unmasked, as RFC 6455 has them).
final class WebSocketClient {
    let fd: Int32
    private var buffer = Data()
    private(set) var status: Int

    /// Connects and upgrades; `status` is 101 when the server accepted.
    init(port: UInt16, headers: [(String, String)]) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        status = 0
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw WebError.io("connect") }
        var head = "GET /api/events HTTP/1.1\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        head += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        _ = Data(head.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        let deadline = Date().addingTimeInterval(10)
        while buffer.range(of: Data("\r\n\r\n".utf8)) == nil, Date() < deadline { readSome() }
        guard let end = buffer.range(of: Data("\r\n\r\n".utf8)) else { throw WebError.io("no handshake answer") }
        let first = String(decoding: buffer[..<end.lowerBound], as: UTF8.self).split(separator: " ")
        status = first.count > 1 ? Int(first[1]) ?? 0 : 0
        buffer = Data(buffer[end.upperBound...])
    }

    private func readSome() {
        var bytes = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &bytes, bytes.count, 0)
        if n > 0 { buffer.append(contentsOf: bytes[0..<n]) }
    }

    /// The next text message, or nil after `timeout` seconds.
    func nextText(timeout: Double = 10) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let (text, used) = Self.frame(buffer) {
                buffer = Data(buffer.dropFirst(used))
                if let text { return text }
                continue
            }
            readSome()
        }
        return nil
    }

    /// One frame at the start of `data`: its text (nil for other opcodes) and its length.
    static func frame(_ data: Data) -> (String?, Int)? {
        let b = [UInt8](data.prefix(10))
        guard b.count >= 2 else { return nil }
        var length = Int(b[1] & 0x7f)
        var offset = 2
        if length == 126 {
            guard b.count >= 4 else { return nil }
            length = Int(b[2]) << 8 | Int(b[3])
            offset = 4
        } else if length == 127 {
            guard b.count >= 10 else { return nil }
            length = b[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        guard data.count >= offset + length else { return nil }
        let payload = data.dropFirst(offset).prefix(length)
        return (b[0] & 0x0f == 1 ? String(decoding: payload, as: UTF8.self) : nil, offset + length)
    }

    /// Waits for an event whose JSON satisfies `matches`.
    func event(timeout: Double = 15, _ matches: ([String: Any]) -> Bool) -> [String: Any]? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let text = nextText(timeout: deadline.timeIntervalSinceNow) else { return nil }
            if let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any], matches(object) { return object }
        }
        return nil
    }

    deinit { close(fd) }
}
