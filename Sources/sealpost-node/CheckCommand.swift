import ArgumentParser
import Foundation
import SealpostNode

extension SealpostNodeCommand {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a data directory: node.yaml, keys, the database, the file store and the disk.",
            discussion: "Reads only; safe while the node runs. Exits 1 when anything is an error, 0 otherwise (warnings included).")

        @OptionGroup var options: DataOption
        @Flag(help: "Print the findings as JSON.") var json = false

        func run() throws {
            let findings = NodeCheck.run(dataDir: options.dir)
            let errors = findings.filter { $0.level == .error }.count
            let warnings = findings.filter { $0.level == .warning }.count
            if json {
                printJSON(["ok": errors == 0, "errors": errors, "warnings": warnings,
                           "findings": findings.map { ["level": $0.level.rawValue, "subject": $0.subject, "message": $0.message] }])
            } else {
                for f in findings { print(pad(f.level.rawValue, 8) + pad(f.subject, 10) + f.message) }
                print(errors == 0 ? "\(options.dir.path): no errors, \(warnings) warning(s)"
                                  : "\(options.dir.path): \(errors) error(s), \(warnings) warning(s)")
            }
            if errors > 0 { throw ExitCode(1) }
        }
    }
}
