import Foundation
import SealpostCore
import Sodium
import ZeroMQ

/// Asks a running node over its admin socket (what `status` and `pending` use).
public enum AdminClient {
    /// Sends one request and waits for the answer.
    /// - Throws: `NodeError.usage` with a clear message when the node does not answer
    ///   (not running, or another node's data dir).
    public static func request(dataDir: DataDir, _ request: [String: Any], timeoutMs: Int = 2000) throws -> [String: Any] {
        _ = try dataDir.loadConfig()
        let nodeKeys = try dataDir.loadKeys()
        let adminKeys = try dataDir.loadAdminKeys()
        guard FileManager.default.fileExists(atPath: dataDir.adminSocketPath) else {
            throw NodeError.usage("the node in \(dataDir.path) is not running (no admin socket); start it with: sealpost-node run --data \(dataDir.path)")
        }
        let socket = try Socket(Context(), .dealer)
        defer { socket.close() }
        var secret = adminKeys.secretKey.copyBytes()
        defer { wipe(&secret) }
        try socket.makeCurveClient(serverKey: nodeKeys.curve.publicKey, publicKey: adminKeys.publicKey, secretKey: secret)
        try socket.connect(dataDir.adminEndpoint)
        let body = try JSONSerialization.data(withJSONObject: request)
        try socket.send([Array(body)], dontWait: false)
        let events = try poll([(.socket(socket), .readable)], timeoutMs: timeoutMs)
        guard events[0].contains(.readable), let reply = try socket.receive(dontWait: true), let frame = reply.frames.last,
              let object = (try? JSONSerialization.jsonObject(with: Data(frame))) as? [String: Any] else {
            throw NodeError.usage("the node in \(dataDir.path) is not running (no answer on its admin socket within \(timeoutMs) ms)")
        }
        if let error = object["error"] as? String { throw NodeError.usage(error) }
        return object
    }
}
