/// Refused CURVE handshakes, logged in aggregate: the first of each window (a minute) is
/// logged, the rest are summed up when the window is over, so one client retrying a wrong
/// key cannot flood the log.
///
/// Pure logic: the reactor tells it of each refused key and logs what it returns.
struct RefusedKeyLog {
    /// A refused key: which, on which ZAP domain, from which address.
    typealias Key = (key: String, domain: String, from: String)

    /// Keys refused since the start (status `counters.refused_keys`).
    private(set) var total: UInt64 = 0
    /// When the current window ends (monotonic ns).
    private var windowEndNs: UInt64 = 0
    /// Refused keys in the current window not logged one by one.
    private var suppressed = 0
    /// The last of them.
    private var last: Key?

    /// What to log for a refused key.
    enum Entry {
        /// Log this key (the first of a window).
        case log
        /// Only counted: it shows in the window's summary.
        case counted
    }

    /// `key` was refused at `now`: logged if it opens a window of `window` ns (after the summary
    /// of the window that ended, `summary(now:)`), else counted.
    mutating func refused(_ key: Key, now: UInt64, window: UInt64) -> Entry {
        total += 1
        guard now >= windowEndNs else {
            suppressed += 1
            last = key
            return .counted
        }
        windowEndNs = now + window
        return .log
    }

    /// When the window is over and keys went unlogged in it: how many were refused in it (the
    /// logged first one included) and the last of them; the count starts again.
    mutating func summary(now: UInt64) -> (count: Int, last: Key)? {
        guard now >= windowEndNs, suppressed > 0, let last else { return nil }
        defer {
            suppressed = 0
            self.last = nil
        }
        return (suppressed + 1, last)
    }
}
