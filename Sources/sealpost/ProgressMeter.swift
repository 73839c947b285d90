import Foundation
import SealpostCore

/// Shows a transfer's progress on standard error: a bar with bytes, rate and ETA
/// on a terminal, a plain line every 10 % otherwise (logs, scripts).
final class ProgressMeter {
    private let label: String
    private let tty = isatty(STDERR_FILENO) == 1
    private let startNs = Clock.monotonicNs()
    private var firstDone: UInt64?
    private var lastDrawNs: UInt64 = 0
    private var lastDecile = -1
    private var drewBar = false

    init(label: String) {
        self.label = label
    }

    func update(_ done: UInt64, _ total: UInt64) {
        let now = Clock.monotonicNs()
        if firstDone == nil { firstDone = done }
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let seconds = Double(now - startNs) / 1e9
        let rate = seconds > 0 ? Double(done - (firstDone ?? 0)) / seconds : 0
        if tty {
            guard now - lastDrawNs > 100_000_000 || done == total else { return }
            lastDrawNs = now
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let eta = rate > 0 && done < total ? Self.duration(Double(total - done) / rate) : "--:--"
            let line = "\r\(label) [\(bar)] \(Int(fraction * 100))%  \(Self.bytes(done)) / \(Self.bytes(total))  \(Self.bytes(UInt64(rate)))/s  ETA \(eta) "
            FileHandle.standardError.write(Data(line.utf8))
            drewBar = true
        } else {
            let decile = Int(fraction * 10)
            guard decile > lastDecile else { return }
            lastDecile = decile
            FileHandle.standardError.write(Data("\(label): \(decile * 10)% (\(done) of \(total) bytes, \(Self.bytes(UInt64(rate)))/s)\n".utf8))
        }
    }

    /// Ends the bar's line.
    func finish() {
        if drewBar { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func duration(_ s: Double) -> String {
        let total = Int(s.rounded())
        return total >= 3600 ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
                             : String(format: "%d:%02d", total / 60, total % 60)
    }
}
