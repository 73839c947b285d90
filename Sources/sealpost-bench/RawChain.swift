import ArgumentParser
import Dispatch
import Foundation
import SealpostCore
import SealpostTestSupport
import Sodium
import Synchronization
import ZeroMQ

/// The transport alone, as the federation benchmark uses it: c1 → A → B → c2 over
/// libzmq CURVE on loopback (DEALER → ROUTER, A's DEALER → B's ROUTER, B's ROUTER → c2's
/// DEALER), four parties on four threads with a libzmq context each, as four processes
/// would be. No storage, no end-to-end crypto, no acknowledgements: the ceiling a relay
/// path can reach on this machine, measured in the same run as `federation` for a ratio.
struct RawChainResult {
    var messages: Int
    var received: Int
    var seconds: Double
    var latenciesNs: [UInt64]

    var msgsPerS: Double { Double(received) / seconds }
}

/// A CURVE key pair as raw bytes for the raw chain (the bench owns them for one run).
private struct CurveKeys: Sendable {
    let publicKey: [UInt8]
    let secretKey: [UInt8]
    static func generate() -> CurveKeys {
        let pair = BoxKeyPair.generate()
        return CurveKeys(publicKey: pair.publicKey, secretKey: pair.secretKey.copyBytes())
    }
}

private func curveServer(_ context: Context, _ type: SocketType, keys: CurveKeys) throws -> Socket {
    let socket = try Socket(context, type)
    // No ZAP handler: a CURVE server then admits any client key, which is all the raw
    // chain needs (the encryption cost is the same).
    try socket.setOption(SocketOption.curveServer, 1)
    try socket.setOption(SocketOption.curveSecretKey, bytes: keys.secretKey)
    try socket.setOption(SocketOption.sendHWM, 200_000)
    try socket.setOption(SocketOption.receiveHWM, 200_000)
    try socket.setOption(SocketOption.linger, 0)
    try socket.bind("tcp://127.0.0.1:*")
    return socket
}

private func curveClient(_ context: Context, _ type: SocketType, server: CurveKeys, endpoint: String) throws -> Socket {
    let socket = try Socket(context, type)
    let mine = CurveKeys.generate()
    try socket.makeCurveClient(serverKey: server.publicKey, publicKey: mine.publicKey, secretKey: mine.secretKey)
    try socket.setOption(SocketOption.sendHWM, 200_000)
    try socket.setOption(SocketOption.receiveHWM, 200_000)
    try socket.setOption(SocketOption.linger, 0)
    try socket.connect(endpoint)
    return socket
}

/// Runs `messages` frames of `size` bytes through c1 → A → B → c2 and measures them.
func runRawChain(messages n: Int, size: Int) throws -> RawChainResult {
    let keysA = CurveKeys.generate(), keysB = CurveKeys.generate()
    let endpoints = Mutex<(a: String?, b: String?)>((nil, nil))
    let failure = Mutex<String?>(nil)
    let stop = Atomic<Bool>(false)
    let bReady = DispatchSemaphore(value: 0), aReady = DispatchSemaphore(value: 0)
    let c2Ready = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
    let outcome = Mutex<(latencies: [UInt64], received: Int, endNs: UInt64)>(([], 0, 0))

    // B: one ROUTER; A's DEALER and c2's DEALER connect to it. c2 says hello first so B
    // knows its routing id; B sends everything else to c2.
    let nodeB = Thread {
        do {
            let context = Context()
            let router = try curveServer(context, .router, keys: keysB)
            defer { router.close() }
            endpoints.withLock { $0.b = try? router.lastEndpoint() }
            bReady.signal()
            var c2: [UInt8]?
            while !stop.load(ordering: .relaxed) {
                guard try poll([(.socket(router), .readable)], timeoutMs: 100).first?.contains(.readable) == true else { continue }
                while let message = try router.receive(), message.frames.count == 2 {
                    if message.frames[1] == Array("hello".utf8) { c2 = message.frames[0]; c2Ready.signal(); continue }
                    guard let c2 else { continue }
                    _ = try router.send([c2, message.frames[1]], dontWait: false)
                }
            }
        } catch { failure.withLock { $0 = "B: \(error)" } ; bReady.signal(); c2Ready.signal() }
    }
    nodeB.start()
    bReady.wait()
    guard let endpointB = endpoints.withLock({ $0.b }) else { throw ValidationError("raw chain: B did not start: \(failure.withLock { $0 } ?? "")") }

    // A: a ROUTER for c1, a DEALER to B; passes each frame on.
    let nodeA = Thread {
        do {
            let context = Context()
            let router = try curveServer(context, .router, keys: keysA)
            let dealer = try curveClient(context, .dealer, server: keysB, endpoint: endpointB)
            defer { router.close(); dealer.close() }
            endpoints.withLock { $0.a = try? router.lastEndpoint() }
            aReady.signal()
            while !stop.load(ordering: .relaxed) {
                guard try poll([(.socket(router), .readable)], timeoutMs: 100).first?.contains(.readable) == true else { continue }
                while let message = try router.receive(), message.frames.count == 2 {
                    _ = try dealer.send([message.frames[1]], dontWait: false)
                }
            }
        } catch { failure.withLock { $0 = "A: \(error)" }; aReady.signal() }
    }
    nodeA.start()
    aReady.wait()
    guard let endpointA = endpoints.withLock({ $0.a }) else { throw ValidationError("raw chain: A did not start: \(failure.withLock { $0 } ?? "")") }

    // c2: a DEALER to B; records each frame's one-way latency from the stamp in it.
    let receiver = Thread {
        do {
            let context = Context()
            let dealer = try curveClient(context, .dealer, server: keysB, endpoint: endpointB)
            defer { dealer.close() }
            _ = try dealer.send([Array("hello".utf8)], dontWait: false)
            var latencies: [UInt64] = []
            latencies.reserveCapacity(n)
            var idleMs = 0
            while latencies.count < n && idleMs < 10_000 {
                guard try poll([(.socket(dealer), .readable)], timeoutMs: 100).first?.contains(.readable) == true else { idleMs += 100; continue }
                idleMs = 0
                while latencies.count < n, let message = try dealer.receive() {
                    let now = Clock.monotonicNs()
                    let frame = message.frames[0]
                    guard frame.count >= 8 else { continue }
                    var stamp: UInt64 = 0
                    for byte in frame.prefix(8) { stamp = stamp << 8 | UInt64(byte) }
                    latencies.append(now &- stamp)
                }
            }
            outcome.withLock { $0 = (latencies, latencies.count, Clock.monotonicNs()) }
        } catch { failure.withLock { $0 = "c2: \(error)" } }
        done.signal()
    }
    receiver.start()
    c2Ready.wait()
    if let error = failure.withLock({ $0 }) { stop.store(true, ordering: .relaxed); throw ValidationError("raw chain: \(error)") }

    // c1, on this thread: a DEALER to A; blocks when the HWM fills, as a sender would.
    let context = Context()
    let sender = try curveClient(context, .dealer, server: keysA, endpoint: endpointA)
    defer { sender.close() }
    var frame = [UInt8](repeating: 0x78, count: max(size, 8))
    let start = Clock.monotonicNs()
    for _ in 0..<n {
        let now = Clock.monotonicNs()
        for i in 0..<8 { frame[i] = UInt8(truncatingIfNeeded: now >> (56 - 8 * UInt64(i))) }
        _ = try sender.send([frame], dontWait: false)
    }
    done.wait()
    stop.store(true, ordering: .relaxed)
    if let error = failure.withLock({ $0 }) { throw ValidationError("raw chain: \(error)") }
    let result = outcome.withLock { $0 }
    return RawChainResult(messages: n, received: result.received, seconds: Double(result.endNs - start) / 1e9,
                          latenciesNs: result.latencies.sorted())
}

extension Bench {
    struct RawChain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "raw-chain",
            abstract: "The transport alone: c1 → A → B → c2 over libzmq CURVE on loopback (no storage, no end-to-end crypto).",
            discussion: "The ceiling for `federation`, which prints its ratio to this when given --with-raw-chain.")

        @Option(help: "Messages to send.") var messages = 100_000
        @Option(help: "Frame size in bytes.") var size = 256
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            let result = try runRawChain(messages: messages, size: size)
            let p = { (q: Double) in Double(percentile(result.latenciesNs, q)) / 1000 }
            if json {
                let object: [String: Any] = [
                    "mode": "raw-chain", "messages": messages, "size": size, "received": result.received,
                    "lost": messages - result.received, "msgs_per_s": result.msgsPerS.rounded(),
                    "seconds": (result.seconds * 1000).rounded() / 1000,
                    "p50_us": p(0.5).rounded(), "p99_us": p(0.99).rounded(),
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("""
                    raw-chain: \(messages) frames of \(size) bytes, c1 → A → B → c2 over CURVE
                      throughput  \(Int(result.msgsPerS)) msgs/s (\(String(format: "%.2f", result.seconds)) s)
                      one-way     p50 \(Int(p(0.5))) µs  p99 \(Int(p(0.99))) µs
                      lost        \(messages - result.received)
                    """)
            }
        }
    }
}
