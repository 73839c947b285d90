import CZeroMQ
import Glibc

/// What to poll: a ZeroMQ socket or a plain file descriptor.
public enum PollTarget {
    case socket(Socket)
    case fd(Int32)
}

/// Events of one poll item.
public struct PollEvents: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
    public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
    /// An error or hang-up on a file descriptor (e.g. the other end of a pipe closed).
    public static let error = PollEvents(rawValue: Int16(ZMQ_POLLERR))
}

/// `zmq_poll` over sockets and file descriptors.
/// - Parameters:
///   - items: what to wait on, with the events of interest.
///   - timeoutMs: -1 waits forever; 0 returns at once. A signal does not end the wait.
/// - Returns: the events that happened, one entry per item.
public func poll(_ items: [(PollTarget, PollEvents)], timeoutMs: Int) throws -> [PollEvents] {
    var raw: [zmq_pollitem_t] = items.map { target, events in
        var item = zmq_pollitem_t()
        switch target {
        case .socket(let socket): item.socket = socket.raw
        case .fd(let fd): item.fd = fd
        }
        item.events = events.rawValue
        return item
    }
    // A signal (EINTR) does not end the wait early: callers that wait for an answer would take it
    // for their timeout (an `AdminClient` call said "not running" when a signal came in).
    let deadline = timeoutMs > 0 ? monotonicMs() + timeoutMs : 0
    var wait = timeoutMs
    while true {
        let rc = raw.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), wait) }
        if rc >= 0 { return raw.map { PollEvents(rawValue: $0.revents) } }
        let error = ZMQError.last()
        guard error.code == EINTR else { throw error }
        if timeoutMs > 0 {
            wait = deadline - monotonicMs()
            if wait <= 0 { return Array(repeating: [], count: items.count) }
        } else if timeoutMs == 0 {
            return Array(repeating: [], count: items.count)
        }
    }
}

private func monotonicMs() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec * 1000 + t.tv_nsec / 1_000_000
}

/// An eventfd that wakes a `zmq_poll` loop from any thread.
///
/// The descriptor is a plain integer, so the value is Sendable; `close()` must be
/// called once by the owner after every other thread stopped using it.
public struct Wakeup: Sendable {
    public let fd: Int32

    public init() {
        fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(fd >= 0, "eventfd failed")
    }

    /// Wakes the poller. Safe from any thread.
    public func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    /// Clears pending wake-ups; called by the polling thread.
    public func drain() {
        var value: UInt64 = 0
        _ = Glibc.read(fd, &value, 8)
    }

    public func close() { _ = Glibc.close(fd) }
}

/// Z85 text for 32-byte keys, as CurveZMQ tools print them.
public enum Z85 {
    public static func encode(_ bytes: [UInt8]) -> String {
        precondition(bytes.count % 4 == 0)
        var out = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        bytes.withUnsafeBufferPointer { src in
            _ = zmq_z85_encode(&out, src.baseAddress, src.count)
        }
        return String(decoding: out.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Decodes Z85 text; nil when it is not valid Z85 of a multiple of 5 characters.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard !chars.isEmpty, chars.count % 5 == 0 else { return nil }
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
        guard chars.allSatisfy({ alphabet.contains($0) }) else { return nil }
        var out = [UInt8](repeating: 0, count: chars.count * 4 / 5)
        let ok = text.withCString { zmq_z85_decode(&out, $0) != nil }
        return ok ? out : nil
    }
}
