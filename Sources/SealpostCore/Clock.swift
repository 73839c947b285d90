import Glibc

/// Wall-clock and monotonic time, without Foundation.
public enum Clock {
    /// Milliseconds since the Unix epoch.
    public static func nowMs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }

    /// Monotonic nanoseconds, for timers and latency.
    /// How long ago `then` (wall-clock ms) was, as a count: 0 for a time "in the future",
    /// which a wall clock stepped back (an NTP correction) makes of every earlier record.
    public static func ageMs(since then: UInt64, now: UInt64 = nowMs()) -> Int {
        Int(clamping: now &- min(then, now))
    }

    public static func monotonicNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-24T21:05:00.123Z`.
    public static func rfc3339(ms: UInt64) -> String {
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ms % 1000), 3))Z"
    }
}
