/// Envelopes in and out over the last minute, in one-second buckets: `in` reached this
/// node (from its people, or relayed for them), `out` left it (to its people, or
/// acknowledged by a next hop), `relayed` passed through on the way to another node.
/// `now` is monotonic nanoseconds.
struct RateMeter {
    private struct Bucket { var second: UInt64 = 0, inCount = 0, outCount = 0, relayedCount = 0 }
    private var buckets = [Bucket](repeating: Bucket(), count: 60)

    private mutating func bucket(_ now: UInt64) -> Int {
        let second = now / 1_000_000_000
        let index = Int(second % 60)
        if buckets[index].second != second { buckets[index] = Bucket(second: second) }
        return index
    }

    mutating func countIn(_ n: Int = 1, now: UInt64) { let i = bucket(now); buckets[i].inCount += n }
    mutating func countOut(_ n: Int = 1, now: UInt64) { let i = bucket(now); buckets[i].outCount += n }
    mutating func countRelayed(_ n: Int = 1, now: UInt64) { let i = bucket(now); buckets[i].relayedCount += n }

    /// Totals over the 60 seconds up to `now`.
    func lastMinute(now: UInt64) -> (inCount: Int, outCount: Int, relayedCount: Int) {
        let second = now / 1_000_000_000
        var i = 0, o = 0, r = 0
        for b in buckets where b.second + 60 > second && b.second <= second { i += b.inCount; o += b.outCount; r += b.relayedCount }
        return (i, o, r)
    }
}
