import ArgumentParser
import Foundation
import SealpostClient
import SealpostWeb

/// The passphrase of a sealed profile: `$SEALPOST_PASSPHRASE` (for scripts), else asked on
/// the terminal without echo.
func askPassphrase(_ prompt: String, environment name: String = "SEALPOST_PASSPHRASE") throws -> String {
    if let value = ProcessInfo.processInfo.environment[name], !value.isEmpty { return value }
    guard isatty(0) == 1, let entered = getpass(prompt) else {
        throw ClientError.invalid("the profile is sealed by a passphrase: set \(name) or run this in a terminal")
    }
    return String(cString: entered)
}

extension SealpostCommand {
    struct Passphrase: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal your private keys and your message history by a passphrase (or take it off).",
            subcommands: [Set.self, Remove.self])

        static let minLength = 8

        /// Seals (or unseals, with nil) the profile's keys and the history key.
        static func change(_ options: ProfileOption, to new: String?) {
            let path = options.path
            if let running = WebDaemon.running(profilePath: path) {
                fail("sealpost web runs for this profile (pid \(running.pid)): stop it first")
            }
            let sealed = Profile.isSealed(at: path)
            var current: String?
            do {
                let profile = try Profile.load(from: path) {
                    let p = try askPassphrase("current passphrase: ")
                    current = p
                    return p
                }
                try HistoryKey.reseal(profilePath: path, current: sealed ? current : nil, new: new)
                try profile.write(to: path, passphrase: new)
            } catch { fail("\(error)") }
        }

        struct Set: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Seal the profile's private keys and its history key by a new passphrase (Argon2id).",
                discussion: "Every sealpost command then asks for it (or reads SEALPOST_PASSPHRASE); sealpost web asks in the browser. The new passphrase can come from SEALPOST_NEW_PASSPHRASE.")
            @OptionGroup var profile: ProfileOption

            func run() throws {
                let new: String
                do {
                    new = try askPassphrase("new passphrase: ", environment: "SEALPOST_NEW_PASSPHRASE")
                    if ProcessInfo.processInfo.environment["SEALPOST_NEW_PASSPHRASE"] == nil {
                        guard try askPassphrase("new passphrase again: ", environment: "SEALPOST_NEW_PASSPHRASE_AGAIN") == new else {
                            fail("the two passphrases differ; nothing changed")
                        }
                    }
                } catch { fail("\(error)") }
                guard new.count >= Passphrase.minLength else { fail("a passphrase has at least \(Passphrase.minLength) characters; nothing changed") }
                Passphrase.change(profile, to: new)
                print("the private keys of \(profile.path) and its history are sealed by your passphrase")
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Keep the profile's keys and history key in clear again (mode 0600 only).")
            @OptionGroup var profile: ProfileOption

            func run() throws {
                guard Profile.isSealed(at: profile.path) else { fail("\(profile.path) is not sealed by a passphrase") }
                Passphrase.change(profile, to: nil)
                print("the private keys of \(profile.path) and its history key are in clear again")
            }
        }
    }
}
