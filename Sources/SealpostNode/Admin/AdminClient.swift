import Foundation
import SealpostCore
import Sodium
import ZeroMQ

/// Asks a running node over its admin socket (what `status` and `pending` use).
public enum AdminClient {
    /// The node's `status` (SPEC 15.3).
    public static func status(dataDir: DataDir, timeoutMs: Int = 2000) throws -> NodeStatus {
        try request(NodeStatus.self, dataDir: dataDir, ["cmd": "status"], timeoutMs: timeoutMs)
    }

    /// What waits for `peer` (SPEC 15.4).
    public static func pending(dataDir: DataDir, peer: String) throws -> PendingStatus {
        try request(PendingStatus.self, dataDir: dataDir, ["cmd": "pending", "peer": peer])
    }

    /// Every node's latest SUMMARY (SPEC 15.5).
    public static func federation(dataDir: DataDir) throws -> FederationStatus {
        try request(FederationStatus.self, dataDir: dataDir, ["cmd": "federation"])
    }

    /// Sends one request and decodes the answer as `Answer`.
    /// - Throws: `NodeError.usage` when the node does not answer, answers `{"error": …}`, or
    ///   answers something this version cannot read (another version's node).
    public static func request<Answer: Decodable>(_ type: Answer.Type, dataDir: DataDir, _ request: [String: Any],
                                                  timeoutMs: Int = 2000) throws -> Answer {
        let frame = try answer(dataDir: dataDir, request, timeoutMs: timeoutMs)
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(frame))
        } catch {
            throw NodeError.usage("the node in \(dataDir.path) answered '\(request["cmd"] ?? "")' in a form this sealpost-node (\(SealpostVersion.string)) cannot read: \(error); run the same version on both sides")
        }
    }

    /// Sends one request and waits for the answer, as a JSON object (the untyped answers: `user`, `directory-*`).
    /// - Throws: `NodeError.usage` with a clear message when the node does not answer
    ///   (not running, or another node's data dir).
    public static func request(dataDir: DataDir, _ request: [String: Any], timeoutMs: Int = 2000) throws -> [String: Any] {
        let frame = try answer(dataDir: dataDir, request, timeoutMs: timeoutMs)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(frame))) as? [String: Any] else {
            throw NodeError.usage("the node in \(dataDir.path) answered something that is not a JSON object")
        }
        return object
    }

    /// The answer's frame; an `{"error": …}` answer is thrown.
    private static func answer(dataDir: DataDir, _ request: [String: Any], timeoutMs: Int) throws -> [UInt8] {
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
        guard events[0].contains(.readable), let reply = try socket.receive(dontWait: true), let frame = reply.frames.last else {
            throw NodeError.usage("the node in \(dataDir.path) is not running (no answer on its admin socket within \(timeoutMs) ms)")
        }
        if let error = try? JSONDecoder().decode(AdminError.self, from: Data(frame)) { throw NodeError.usage(error.error) }
        return frame
    }

    private struct AdminError: Decodable { var error: String }
}
