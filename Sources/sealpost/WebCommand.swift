import ArgumentParser
import Foundation
import Logging
import SealpostClient
import SealpostWeb
import Synchronization

extension SealpostCommand {
    struct Web: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the web client: stays connected to your node, keeps your history, serves the UI on this machine only.",
            discussion: """
                Serves the UI on http://127.0.0.1:PORT (a free port unless --port) and prints a login link \
                with a one-time token after '#'. Open it in a browser on this machine; the daemon keeps \
                receiving while no browser is open. One daemon per profile: a second start prints where the \
                first one is. Ctrl-C stops it.
                """)

        @Option(help: "Profile file (default: $SEALPOST_PROFILE, else ~/.sealpost/profile).") var profile: String?
        @Option(help: "Loopback port to serve on (default: a free one).") var port: UInt16 = 0
        @Flag(help: "Do not try to open a browser.") var noOpen = false
        @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"

        func validate() throws {
            guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error") }
        }

        func run() throws {
            let level = Logger.Level(rawValue: logLevel) ?? .info
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "sealpost.web")
            let path = profile ?? Profile.defaultPath()
            let outcome = DaemonBox()
            let started = DispatchSemaphore(value: 0)
            Task {
                do { outcome.set(.success(try await WebDaemon.start(profilePath: path, port: port, logger: logger))) } catch {
                    outcome.set(.failure(error))
                }
                started.signal()
            }
            started.wait()
            let daemon: WebDaemon
            switch outcome.get() {
            case .success(let d): daemon = d
            case .failure(let error): fail("\(error)")
            case nil: fail("the web client did not start")
            }
            print("sealpost web: \(daemon.address) on \(daemon.origin)")
            print("open this link in a browser on this machine (it logs you in once):")
            print("  \(daemon.loginURL)")
            print("Ctrl-C stops the web client.")
            fflush(nil)
            if !noOpen { openBrowser(daemon.loginURL) }
            fflush(nil)

            signal(SIGINT, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            let stopped = DispatchSemaphore(value: 0)
            var sources: [DispatchSourceSignal] = []
            for sig in [SIGINT, SIGTERM] {
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { stopped.signal() }
                source.resume()
                sources.append(source)
            }
            stopped.wait()
            let done = DispatchSemaphore(value: 0)
            Task {
                await daemon.stop()
                done.signal()
            }
            done.wait()
            _ = sources
        }

        /// Opens the link where a desktop session is there to show it; says so otherwise.
        func openBrowser(_ url: String) {
            let env = ProcessInfo.processInfo.environment
            guard env["DISPLAY"] != nil || env["WAYLAND_DISPLAY"] != nil,
                  FileManager.default.isExecutableFile(atPath: "/usr/bin/xdg-open") else {
                print("(no desktop session here: open the link yourself)")
                return
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/xdg-open")
            process.arguments = [url]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try? process.run()
        }
    }
}

/// Hands the started daemon (or the error) from the start task to the command's thread.
private final class DaemonBox: Sendable {
    private let value = Mutex<Result<WebDaemon, any Error>?>(nil)
    func set(_ r: Result<WebDaemon, any Error>) { value.withLock { $0 = r } }
    func get() -> Result<WebDaemon, any Error>? { value.withLock { $0 } }
}
