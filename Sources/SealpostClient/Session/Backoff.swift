import Sodium

/// Exponential back-off with jitter for retrying a request the node could not take now
/// (500, 503, 429): 50 ms, 100 ms, 200 ms … up to 5 s, each a random time between half
/// of it and all of it, so many clients do not retry in step.
public struct Backoff: Sendable {
    public var baseMs: Int
    public var maxMs: Int
    private var attempt = 0

    public init(baseMs: Int = 50, maxMs: Int = 5_000) {
        self.baseMs = baseMs
        self.maxMs = maxMs
    }

    /// The pause before the next retry, in milliseconds.
    public mutating func next() -> Int {
        let ceiling = min(maxMs, baseMs << min(attempt, 16))
        attempt += 1
        let half = max(1, ceiling / 2)
        let random = Int(Sodium.randomBytes(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } % UInt32(half + 1))
        return half + random
    }

    public mutating func reset() { attempt = 0 }

}
