import Glibc

/// How long the reactor's cycles take, and which phase of the slowest one took longest:
/// the operator's answer to "why was that message late" (status `cycles`, SPEC 15.3).
///
/// The reactor marks the end of each phase with the clock (`mark`); a cycle's time is its
/// work, not the poll's wait before it. The last `window` cycles that did any work are kept
/// (duration and longest phase, a few bytes each), so `status` reports a recent slowest and
/// p99, not a start-up hiccup of hours ago. Marking costs one clock read per phase; the
/// thread's CPU time and context switches are read at the start and end of each cycle
/// (`getrusage`), so a slow cycle shows whether it worked (CPU time near its length),
/// waited in the kernel (voluntary switches: the disk) or was kept off the CPU by other
/// programs (involuntary switches, CPU time far below its length).
struct CycleTimes {
    enum Phase: UInt8, CaseIterable {
        case admin, timers, router, peers, files, commit, send, storage, tick, housekeeping

        var name: String {
            switch self {
            case .admin: "admin"
            case .timers: "timers"
            case .router: "router"
            case .peers: "peers"
            case .files: "files"
            case .commit: "commit"
            case .send: "send"
            case .storage: "storage"
            case .tick: "tick"
            case .housekeeping: "housekeeping"
            }
        }
    }

    static let window = 4096
    /// Cycles shorter than this are not kept (idle wake-ups would only dilute the p99).
    static let minimumNs: UInt64 = 20_000

    private var durationsUs: [UInt32]
    private var phases: [UInt8]
    private var next = 0
    private var filled = 0
    private var cycleStart: UInt64 = 0
    private var phaseStart: UInt64 = 0
    private var longestPhase = Phase.admin
    private var longestPhaseNs: UInt64 = 0
    private var longestPhasesUs: [UInt32]
    private var cpuUs: [UInt32]
    private var blocks: [UInt16]
    private var preemptions: [UInt16]
    private var usageStart: (cpuNs: UInt64, blocks: Int, preemptions: Int) = (0, 0, 0)
    /// Cycles since the start (kept or not).
    private(set) var count = 0

    init() {
        durationsUs = Array(repeating: 0, count: Self.window)
        phases = Array(repeating: 0, count: Self.window)
        longestPhasesUs = Array(repeating: 0, count: Self.window)
        cpuUs = Array(repeating: 0, count: Self.window)
        blocks = Array(repeating: 0, count: Self.window)
        preemptions = Array(repeating: 0, count: Self.window)
    }

    /// This thread's CPU time (ns) and context switches so far: voluntary (it waited in the
    /// kernel, e.g. for the disk) and involuntary (another thread was given its CPU).
    static func threadUsage() -> (cpuNs: UInt64, blocks: Int, preemptions: Int) {
        var u = rusage()
        getrusage(1, &u) // RUSAGE_THREAD (a GNU name Glibc does not import)
        let cpuUs = (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1_000_000 + u.ru_utime.tv_usec + u.ru_stime.tv_usec
        return (UInt64(max(0, cpuUs)) * 1000, u.ru_nvcsw, u.ru_nivcsw)
    }

    /// A cycle starts (after its poll returned).
    mutating func begin(now: UInt64) {
        cycleStart = now
        phaseStart = now
        usageStart = Self.threadUsage()
        longestPhaseNs = 0
        longestPhase = .admin
    }

    /// `phase` ended at `now` (it began where the previous one ended).
    mutating func mark(_ phase: Phase, now: UInt64) {
        let spent = now &- phaseStart
        if spent > longestPhaseNs {
            longestPhaseNs = spent
            longestPhase = phase
        }
        phaseStart = now
    }

    /// The cycle ended at `now`.
    mutating func end(now: UInt64) {
        count += 1
        let total = now &- cycleStart
        guard total >= Self.minimumNs else { return }
        durationsUs[next] = UInt32(clamping: total / 1000)
        phases[next] = longestPhase.rawValue
        longestPhasesUs[next] = UInt32(clamping: longestPhaseNs / 1000)
        let usage = Self.threadUsage()
        cpuUs[next] = UInt32(clamping: (usage.cpuNs &- usageStart.cpuNs) / 1000)
        blocks[next] = UInt16(clamping: usage.blocks - usageStart.blocks)
        preemptions[next] = UInt16(clamping: usage.preemptions - usageStart.preemptions)
        next = (next + 1) % Self.window
        filled = min(filled + 1, Self.window)
    }

    /// The recent cycles' figures (sorts at most `window` integers).
    func summary() -> NodeStatus.Cycles {
        guard filled > 0 else { return NodeStatus.Cycles(count: count, recent: 0, slowestMs: 0, slowestCPUMs: 0, slowestBlocks: 0, slowestPreemptions: 0, phase: nil, phaseMs: 0, p50Ms: 0, p99Ms: 0) }
        var slowest = 0
        for i in 1..<filled where durationsUs[i] > durationsUs[slowest] { slowest = i }
        let sorted = durationsUs[0..<filled].sorted()
        func ms(_ us: UInt32) -> Double { Double(us) / 1000 }
        func at(_ p: Double) -> UInt32 { sorted[min(filled - 1, Int(Double(filled - 1) * p + 0.5))] }
        return NodeStatus.Cycles(count: count, recent: filled, slowestMs: ms(durationsUs[slowest]),
                                 slowestCPUMs: ms(cpuUs[slowest]), slowestBlocks: Int(blocks[slowest]),
                                 slowestPreemptions: Int(preemptions[slowest]),
                                 phase: Phase(rawValue: phases[slowest])?.name, phaseMs: ms(longestPhasesUs[slowest]),
                                 p50Ms: ms(at(0.5)), p99Ms: ms(at(0.99)))
    }
}
