/// How many forward reports (protocol/SPEC.md 7.9.9) a node sends about one forwarder: a token
/// bucket per forwarder, `burst` at once and then `perHour`. A refusal past it is not reported on
/// its own (it is in this node's audit log); the next report about that forwarder counts it.
/// Pure logic, time passed in; kept in memory only (a restart starts every bucket full).
struct ForwardReportLimiter: Equatable {
    enum Verdict: Equatable {
        /// Report it, with the refusals of this forwarder not reported since the last report.
        case report(suppressed: UInt32)
        /// Do not report it: counted for the next report.
        case suppress
    }

    struct Bucket: Equatable {
        var tokens: Double
        var atMs: UInt64
        var suppressed: UInt32
    }

    /// Forwarders tracked at most; past it, those whose bucket is full again and owe nothing are forgotten.
    static let maxForwarders = 4096

    private(set) var buckets: [String: Bucket] = [:]

    /// Whether a refusal of `forwarder`'s forward at `now` (ms) is reported.
    mutating func take(_ forwarder: String, now: UInt64, burst: Int, perHour: Int) -> Verdict {
        let capacity = Double(max(burst, 1)), rate = Double(max(perHour, 1)) / 3_600_000
        var b = buckets[forwarder] ?? Bucket(tokens: capacity, atMs: now, suppressed: 0)
        if now > b.atMs { b.tokens = min(capacity, b.tokens + Double(now - b.atMs) * rate) }
        b.atMs = max(b.atMs, now)
        let verdict: Verdict
        if b.tokens >= 1 {
            b.tokens -= 1
            verdict = .report(suppressed: b.suppressed)
            b.suppressed = 0
        } else {
            b.suppressed = b.suppressed == .max ? .max : b.suppressed + 1
            verdict = .suppress
        }
        if buckets[forwarder] == nil, buckets.count >= Self.maxForwarders { forgetIdle(now: now, burst: burst, perHour: perHour) }
        buckets[forwarder] = b
        return verdict
    }

    /// Forgets the buckets that are full again and owe no count.
    mutating func forgetIdle(now: UInt64, burst: Int, perHour: Int) {
        let capacity = Double(max(burst, 1)), rate = Double(max(perHour, 1)) / 3_600_000
        buckets = buckets.filter { _, b in
            b.suppressed > 0 || b.tokens + Double(now &- min(now, b.atMs)) * rate < capacity
        }
    }
}
