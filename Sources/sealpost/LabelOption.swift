import ArgumentParser
import Foundation
import SealpostClient
import SealpostCore

/// `--label` and `--until`, shared by every command that sends content (protocol/SPEC.md 7.11).
struct LabelOption: ParsableArguments {
    @Option(help: "The classification label: 公开/public, 内部/internal, 敏感/sensitive, 工作秘密/work-secret, … (default: your node's, e.g. 内部). Every recipient must be cleared for it.")
    var label: String?

    @Option(help: "Readable until (保密期限): RFC 3339 (2026-12-31T00:00:00Z), local 'YYYY-MM-DD HH:MM', or a duration (2h, 7d). Then the content is deleted from the recipients' nodes and clients.")
    var until: String?

    func validate() throws {
        if let until, Self.time(until) == nil {
            throw ValidationError("cannot read --until '\(until)': use 2026-12-31T00:00:00Z, '2026-12-31 18:00' or a duration like 7d")
        }
    }

    static func time(_ text: String) -> UInt64? {
        ReminderTime.absolute(text) ?? ReminderTime.duration(text).map { Clock.nowMs() + $0 }
    }

    /// Sets what the client labels its next sends with.
    func apply(to client: Client) {
        client.sendLabel = label
        client.readableUntil = until.flatMap(Self.time) ?? 0
    }
}
