import ArgumentParser
import Dispatch
import Foundation
import Logging
import SealpostCore
import SealpostNode

@main
struct SealpostNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealpost-node",
        abstract: "Sealpost relay node: create, run and operate a unit's node.",
        version: SealpostVersion.string,
        subcommands: [Init.self, Run.self, Invite.self, Users.self, Info.self, Peer.self, Directory.self, Status.self, Pending.self,
                      Check.self, BackupCommand.self, RestoreCommand.self, Audit.self, TraceCommand.self],
        defaultSubcommand: Run.self
    )

    /// The node must outlive a closed log pipe (`sealpost-node run | tee …` whose reader died):
    /// SIGPIPE would kill it with status 141; ignored, the write fails and the node goes on.
    static func main() {
        signal(SIGPIPE, SIG_IGN)
        main(nil)
    }
}

/// `--data DIR`, shared by every subcommand.
struct DataOption: ParsableArguments {
    @Option(name: .customLong("data"), help: "The node's data directory (default: ./sealpost-data).")
    var dataPath: String?

    var data: String { dataPath ?? "./sealpost-data" }
    var dir: DataDir { DataDir(data) }
}

/// Prints one clear line on stderr and exits non-zero.
func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(code)
}

func printJSON(_ object: Any) {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
    print(String(decoding: data, as: UTF8.self))
}

extension SealpostNodeCommand {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a new node: config, keys and database.")

        @OptionGroup var options: DataOption
        @Option(help: "The node's name, unique in the federation (e.g. hq, traffic).") var name: String
        @Option(help: "Where clients and peers connect (ROUTER).") var listen = NodeConfig.defaultListen
        @Option(help: "Where announcements are published (PUB).") var publish = NodeConfig.defaultPublish
        @Option(help: "The ROUTER endpoint invites and peers should use, when --listen is 0.0.0.0 or behind NAT.") var advertise: String?
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            var config = NodeConfig(name: name, listen: listen, publish: publish)
            config.advertise = advertise
            let keys: NodeKeys
            do {
                keys = try options.dir.create(config: config)
            } catch let error as NodeError {
                fail(error.description)
            }
            let key = keys.publicKeyText
            if json {
                printJSON(["name": name, "public_key": key, "router": config.advertisedEndpoint, "publish": publish, "data": options.dir.path])
            } else {
                print("""
                    created node '\(name)' in \(options.dir.path)
                      public key  \(key)
                      router      \(listen)
                      publish     \(publish)
                    start it:       sealpost-node run --data \(options.data)
                    invite someone: sealpost-node invite --data \(options.data) USER
                    """)
            }
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the node in the foreground (stop with Ctrl-C or SIGTERM).",
            discussion: "With no --data, uses ./sealpost-data and creates a node named 'local' there on first start.")

        @OptionGroup var options: DataOption
        @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
        /// For the test suite's node processes: `NodeTimers.fast` (pings, announcements, retries and
        /// reopen times at about a fifth). Never for a deployed node: SPEC states `standard`.
        @Flag(help: .hidden) var fastTimers = false

        func run() throws {
            // SIGINT and SIGTERM are blocked before any thread exists, so every thread (the
            // reactor's, libzmq's, libdispatch's) inherits the mask and the one thread below
            // takes them with sigwait. A signal handler of libdispatch is not enough: the kernel
            // may hand a process signal to any thread that does not block it, and with
            // SIG_IGN there it was dropped and the node ran on.
            let stopSignals = Self.blockStopSignals()
            guard let level = Logger.Level(rawValue: logLevel) else { fail("unknown log level '\(logLevel)'") }
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "sealpost.node")
            let dir = options.dir
            // Only the embedded default creates a node on the fly; a named --data must hold one.
            if !dir.exists && options.dataPath == nil {
                do {
                    let keys = try dir.create(config: NodeConfig(name: "local"))
                    logger.info("created embedded default node 'local'", metadata: [
                        "data": "\(dir.path)", "public_key": "\(keys.publicKeyText)"])
                } catch let error as NodeError {
                    fail(error.description)
                }
            }
            let node: Node
            do {
                let timers: NodeTimers = fastTimers ? .fast : .standard
                node = try Node.start(dataDir: dir, logger: logger) { $0.timers = timers }
            } catch let error as NodeError {
                fail(error.description)
            } catch {
                // Anything else at start is still one `error:` line with the data dir in it.
                fail("cannot start the node in \(dir.path): \(error)")
            }
            let waiter = Thread {
                var set = stopSignals
                var received: Int32 = 0
                sigwait(&set, &received)
                node.stop()
            }
            waiter.name = "sealpost-node-signals"
            waiter.start()
            print("node '\(node.name)' listening on \(node.routerEndpoint), publishing on \(node.publishEndpoint)")
            print("invite a person:  sealpost-node invite --data \(options.data) USER")
            fflush(nil)
            node.waitUntilStopped()
            logger.info("node stopped")
        }

        /// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it starts later).
        static func blockStopSignals() -> sigset_t {
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGINT)
            sigaddset(&set, SIGTERM)
            pthread_sigmask(SIG_BLOCK, &set, nil)
            return set
        }
    }

    struct Invite: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a one-time invite code for USER@NODE (works while the node runs).",
            discussion: "`invite USER` is `invite create USER`; `invite list` and `invite revoke` manage outstanding invites.",
            subcommands: [Create.self, InviteList.self, InviteRevoke.self],
            defaultSubcommand: Create.self)
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a one-time invite code for USER@NODE (works while the node runs).")

        @OptionGroup var options: DataOption
        @Argument(help: "The user name, e.g. wu.") var user: String
        @Option(help: "Hours the code stays valid (default: invite_ttl_hours, 24).") var ttl: Int?
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            do {
                let invite = try Operator.invite(dataDir: options.dir, user: user, ttlHours: ttl)
                if json {
                    printJSON(["address": invite.address, "code": invite.code, "expires_at": Clock.rfc3339(ms: invite.expiresAt * 1000)])
                } else {
                    print(invite.code)
                    // The code alone on standard output (scripts read it); at a terminal, the command to pass on.
                    if isatty(1) == 1 {
                        FileHandle.standardError.write(Data("give it to \(invite.address); they run: sealpost join \(invite.code)\n".utf8))
                    }
                }
            } catch let error as NodeError {
                fail(error.description)
            }
        }
    }

    struct Users: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, disable, enable, remove, re-key or clear (set the clearance of) the users of this node.",
            discussion: "`users` alone lists them. The changes work on a running node (at once) and on a stopped one.",
            subcommands: [UsersList.self, Disable.self, Enable.self, Remove.self, Rekey.self, Officer.self, Clear.self],
            defaultSubcommand: UsersList.self)
    }

    struct UsersList: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the users enrolled on this node.")

        @OptionGroup var options: DataOption
        @Flag(help: "One JSON object per line.") var json = false

        func run() throws {
            let users: [(user: UserRecord, waiting: Int)]
            do { users = try Operator.users(dataDir: options.dir) } catch let error as NodeError { fail(error.description) }
            let node = (try? options.dir.loadConfig().name) ?? "?"
            // Disabled after a re-key, until new keys arrive (its invite may have expired): `enable` is refused.
            let rekeying = (try? Operator.rekeyPendingUsers(dataDir: options.dir)) ?? []
            func state(_ u: UserRecord) -> String {
                u.disabledAt == nil ? "active" : rekeying.contains(u.name) ? "rekeying" : "disabled"
            }
            let policy = try? options.dir.loadConfig().labels.policy(node: node)
            let clearances = Operator.clearances(of: users.map(\.user))
            func clearance(_ u: UserRecord) -> String {
                guard let policy else { return "?" }
                guard let rank = clearances[u.name] ?? nil else { return policy.set.display(policy.defaultRank) + " (default)" }
                return policy.set.display(rank)
            }
            if json {
                for (u, waiting) in users {
                    printJSON(["address": "\(u.name)@\(node)", "name": u.display, "enrolled_at": Clock.rfc3339(ms: u.enrolledAt),
                               "waiting": waiting, "state": state(u), "clearance": clearance(u),
                               "disabled_at": u.disabledAt.map { Clock.rfc3339(ms: $0 * 1000) } ?? NSNull()])
                }
                return
            }
            if users.isEmpty {
                print("no users enrolled on '\(node)' yet: sealpost-node invite --data \(options.data) USER")
                return
            }
            print("ADDRESS".padding(toLength: 28, withPad: " ", startingAt: 0) + "NAME".padding(toLength: 20, withPad: " ", startingAt: 0)
                  + "ENROLLED".padding(toLength: 26, withPad: " ", startingAt: 0) + "WAITING  " + "STATE".padding(toLength: 10, withPad: " ", startingAt: 0) + "CLEARANCE")
            for (u, waiting) in users {
                print("\(u.name)@\(node)".padding(toLength: 28, withPad: " ", startingAt: 0)
                      + u.display.padding(toLength: 20, withPad: " ", startingAt: 0)
                      + Clock.rfc3339(ms: u.enrolledAt).padding(toLength: 26, withPad: " ", startingAt: 0)
                      + "\(waiting)".padding(toLength: 9, withPad: " ", startingAt: 0) + state(u).padding(toLength: 10, withPad: " ", startingAt: 0)
                      + clearance(u))
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print what a neighbouring unit needs to peer with this node.")

        @OptionGroup var options: DataOption
        @Flag(help: "Print as JSON.") var json = false

        func run() throws {
            do {
                let config = try options.dir.loadConfig()
                let keys = try options.dir.loadKeys()
                let key = keys.publicKeyText
                let signKey = Hex.encode(keys.sign.publicKey)
                if json {
                    printJSON(["name": config.name, "public_key": key, "sign_key": signKey, "router": config.advertisedEndpoint,
                               "publish": config.publish])
                } else {
                    print("name        \(config.name)\npublic key  \(key)\nsign key    \(signKey)\nrouter      \(config.advertisedEndpoint)\npublish     \(config.publish)")
                }
            } catch let error as NodeError {
                fail(error.description)
            }
        }
    }
}
