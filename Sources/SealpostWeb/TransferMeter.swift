/// A transfer's progress as the UI shows it: bytes done of the total, the rate over the last
/// few seconds, and the time left at that rate. Pure: fed with the clock, tested with plain values.
struct TransferMeter {
    struct Reading: Equatable {
        var done: UInt64
        var total: UInt64
        /// Bytes per second over the window; 0 before two samples.
        var rate: UInt64
        /// Seconds left at `rate`; nil while the rate is unknown.
        var eta: UInt64?
    }

    let total: UInt64
    /// How far back the rate looks.
    static let windowNs: UInt64 = 3_000_000_000
    /// At most one reading this often, except the last one.
    static let everyNs: UInt64 = 200_000_000

    private var samples: [(ns: UInt64, done: UInt64)] = []
    private var lastReadingNs: UInt64?

    init(total: UInt64) { self.total = total }

    /// Takes a progress report.
    /// - Returns: a reading when one is due (throttled), always for the first and the last.
    mutating func update(done: UInt64, nowNs: UInt64) -> Reading? {
        samples.append((nowNs, done))
        while samples.count > 2, let first = samples.first, nowNs - first.ns > Self.windowNs { samples.removeFirst() }
        let finished = done >= total
        if let last = lastReadingNs, nowNs - last < Self.everyNs, !finished { return nil }
        lastReadingNs = nowNs
        return reading(done: done)
    }

    func reading(done: UInt64) -> Reading {
        guard let first = samples.first, let last = samples.last, last.ns > first.ns, last.done >= first.done else {
            return Reading(done: done, total: total, rate: 0, eta: done >= total ? 0 : nil)
        }
        let rate = (last.done - first.done) * 1_000_000_000 / (last.ns - first.ns)
        let left = total > done ? total - done : 0
        return Reading(done: done, total: total, rate: rate, eta: left == 0 ? 0 : rate > 0 ? (left + rate - 1) / rate : nil)
    }
}
