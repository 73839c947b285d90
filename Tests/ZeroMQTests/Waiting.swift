import Dispatch
import ZeroMQ

/// Milliseconds on a monotonic clock, for deadlines.
func monotonicMs() -> Int { Int(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

/// One message from `socket`, or nil when none arrives within `timeoutMs`.
func receive(_ socket: Socket, timeoutMs: Int = 5_000) throws -> Message? {
    let deadline = monotonicMs() + timeoutMs
    while true {
        if let message = try socket.receive() { return message }
        let left = deadline - monotonicMs()
        if left <= 0 { return nil }
        _ = try poll([(.socket(socket), .readable)], timeoutMs: min(left, 100))
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
