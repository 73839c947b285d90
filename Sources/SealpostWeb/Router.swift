import FlyingFox
import Foundation
import Logging
import SealpostCore
import Synchronization

/// Every request of the daemon goes through here: the `LocalGuard` decides first, then the
/// route runs. Every response carries the same security headers and never a CORS header.
final class Router: HTTPHandler, Sendable {
    let core: DaemonCore
    let hub: EventHub
    private let lock: WebLock
    let logger: Logger
    private let guardian = Mutex<LocalGuard?>(nil)

    /// Largest request body taken (a 64 KiB text, JSON-escaped, fits).
    static let maxBody = 512 * 1024

    init(core: DaemonCore, hub: EventHub, lock: WebLock, logger: Logger) {
        self.core = core
        self.hub = hub
        self.lock = lock
        self.logger = logger
    }

    /// Called once the port is known (the guard's allow-lists depend on it).
    func ready(_ g: LocalGuard) { guardian.withLock { $0 = g } }

    func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let g = guardian.withLock({ $0 }) else { return plain(503, "starting", nil) }
        let method = request.method.rawValue
        let path = request.path
        let header: (String) -> String? = { request.headers[HTTPHeader($0)] }
        func refuse(_ v: LocalGuard.Verdict) -> HTTPResponse? {
            switch v {
            case .allow: return nil
            case .forbidden(let why):
                logger.notice("refused a request", metadata: ["method": "\(method)", "path": "\(path)", "why": "\(why)"])
                return error(403, why, g)
            case .unauthorized(let why): return error(401, why, g)
            }
        }
        if method == "OPTIONS" {
            // No CORS: a preflight is never answered with permission.
            return refuse(g.check(.asset, method: "GET", header: header)) ?? error(403, "cross-origin requests are not allowed", g)
        }
        switch (method, path) {
        case ("GET", "/"), ("GET", "/index.html"), ("HEAD", "/"):
            return refuse(g.check(.asset, method: method, header: header)) ?? asset(Assets.indexHTML, "text/html; charset=utf-8", g)
        case ("GET", "/app.js"):
            return refuse(g.check(.asset, method: method, header: header)) ?? asset(Assets.appJS, "text/javascript; charset=utf-8", g)
        case ("GET", "/app.css"):
            return refuse(g.check(.asset, method: method, header: header)) ?? asset(Assets.appCSS, "text/css; charset=utf-8", g)
        case ("GET", "/favicon.ico"), ("GET", "/icon.svg"):
            return refuse(g.check(.asset, method: method, header: header)) ?? asset(Assets.iconSVG, "image/svg+xml", g)
        case ("POST", "/api/login"):
            if let r = refuse(g.check(.login, method: method, header: header)) { return r }
            guard let body: LoginBody = try await decode(request, g) else { return error(400, "the body must be JSON {\"token\": string}", g) }
            guard body.token.count <= 64, let (session, csrf) = g.login(token: body.token) else {
                return error(401, "this login link is not valid (any more): run 'sealpost web' again to get a fresh one", g)
            }
            lock.publish(pid: getpid(), url: g.loginURL)
            var response = json(200, ["csrf": csrf], g)
            response.headers[HTTPHeader("Set-Cookie")] = g.setCookie(session)
            return response
        case ("GET", "/api/state"):
            if let r = refuse(g.check(.read, method: method, header: header)) { return r }
            guard let worker = core.worker else {
                return json(200, ["locked": true, "me": ["address": core.address, "name": ""], "csrf": g.csrf(cookieHeader: header("Cookie")) ?? ""], g)
            }
            var reply = await worker.ask(.state)
            if reply.status == 200, var object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any] {
                object["csrf"] = g.csrf(cookieHeader: header("Cookie")) ?? ""
                object["locked"] = false
                reply = .json(object)
            }
            return respond(reply, g)
        case ("POST", "/api/unlock"):
            if let r = refuse(g.check(.write, method: method, header: header)) { return r }
            guard let body: UnlockBody = try await decode(request, g), (1...1024).contains(body.passphrase.utf8.count) else {
                return error(400, "the body must be JSON {\"passphrase\": string of 1 to 1024 bytes}", g)
            }
            switch core.unlock(passphrase: body.passphrase) {
            case .unlocked: return json(200, ["locked": false], g)
            case .wrong:
                // Slows guessing down; the Argon2id derivation already costs a fraction of a second.
                try? await Task.sleep(nanoseconds: 1_000_000_000)
                return error(401, "wrong passphrase", g)
            case .busy: return error(409, "another unlock is in progress", g)
            case .failed(let why): return error(500, why, g)
            }
        case ("GET", "/api/history"):
            if let r = refuse(g.check(.read, method: method, header: header)) { return r }
            guard let conversation = request.query["conversation"], Address(conversation) != nil else {
                return error(400, "conversation must be an address (user@node or group@node)", g)
            }
            var before: Int64?
            if let b = request.query["before"] {
                guard let v = Int64(b), v > 0 else { return error(400, "before must be a positive row number", g) }
                before = v
            }
            var limit = 50
            if let l = request.query["limit"] {
                guard let v = Int(l), (1...200).contains(v) else { return error(400, "limit must be 1 to 200", g) }
                limit = v
            }
            return respond(await ask(.history(conversation: conversation, before: before, limit: limit)), g)
        case ("GET", "/api/directory"):
            if let r = refuse(g.check(.read, method: method, header: header)) { return r }
            let query = request.query["q"] ?? ""
            guard query.count <= 64 else { return error(400, "the search is longer than 64 characters", g) }
            return respond(await ask(.directory(query: query)), g)
        case ("GET", "/api/search"):
            if let r = refuse(g.check(.read, method: method, header: header)) { return r }
            let query = request.query["q"] ?? ""
            guard (1...64).contains(query.count) else { return error(400, "the search must be 1 to 64 characters", g) }
            return respond(await ask(.search(query: query, limit: 50)), g)
        case ("POST", "/api/send"):
            if let r = refuse(g.check(.write, method: method, header: header)) { return r }
            guard let body: SendBody = try await decode(request, g) else {
                return error(400, "the body must be JSON {\"to\": string, \"text\": string}", g)
            }
            guard Address(body.to) != nil else { return error(400, "'\(body.to.prefix(80))' is not an address (user@node)", g) }
            guard body.text.utf8.count <= Sealed.maxTextBytes else {
                return error(400, "the message is \(body.text.utf8.count) bytes; the limit is \(Sealed.maxTextBytes) bytes (64 KiB)", g)
            }
            return respond(await ask(.send(to: body.to, text: body.text)), g)
        case ("POST", "/api/forward"):
            if let r = refuse(g.check(.write, method: method, header: header)) { return r }
            guard let body: ForwardBody = try await decode(request, g), !body.to.isEmpty, body.to.count <= Forward.maxWireRecipients,
                  (body.note ?? "").utf8.count <= Forward.maxNoteBytes else {
                return error(400, "the body must be JSON {\"id\": string, \"to\": [string], \"note\": string (optional, at most 4096 bytes)}", g)
            }
            return respond(await ask(.forward(id: body.id, to: body.to, note: body.note ?? "")), g)
        case ("POST", "/api/downgrade"):
            if let r = refuse(g.check(.write, method: method, header: header)) { return r }
            guard let body: DowngradeBody = try await decode(request, g), body.id.count == 32, MessageID(hex: body.id) != nil,
                  (1...64).contains(body.to.count) else {
                return error(400, "the body must be JSON {\"id\": message id, \"to\": label, \"reason\": string (1 to 255 bytes)}", g)
            }
            let reason = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !reason.isEmpty else { return error(400, "a downgrade needs a reason", g) }
            guard reason.utf8.count <= 255 else { return error(400, "the reason is \(reason.utf8.count) bytes; the limit is 255", g) }
            return respond(await ask(.downgrade(id: body.id, to: body.to, reason: reason)), g)
        case ("POST", "/api/read"):
            if let r = refuse(g.check(.write, method: method, header: header)) { return r }
            guard let body: ReadBody = try await decode(request, g), Address(body.conversation) != nil, body.through >= 0 else {
                return error(400, "the body must be JSON {\"conversation\": address, \"through\": row number}", g)
            }
            return respond(await ask(.markRead(conversation: body.conversation, through: body.through)), g)
        case ("POST", "/api/settings"):
            if let r = refuse(g.check(.write, method: method, header: header)) { return r }
            guard let body: SettingsBody = try await decode(request, g) else {
                return error(400, "the body must be JSON {\"read_receipts\": true or false}", g)
            }
            return respond(await ask(.readReceipts(body.read_receipts)), g)
        case ("GET", "/api/events"):
            if let r = refuse(g.check(.webSocket, method: method, header: header)) { return r }
            var response = try await WebSocketHTTPHandler(handler: MessageFrameWSHandler(handler: EventSocket(hub: hub)))
                .handleRequest(request)
            response.headers[HTTPHeader("Cache-Control")] = "no-store"
            return response
        default:
            if let r = try await featureRoute(method: method, path: path, request: request, g, header: header, refuse: refuse) { return r }
            if let r = refuse(g.check(.asset, method: "GET", header: header)) { return r }
            return error(404, "no such page", g)
        }
    }

    /// Asks the client thread, or says that the profile is still locked.
    func ask(_ request: WorkerRequest) async -> WorkerReply {
        guard let worker = core.worker else { return .error("locked: give your passphrase first", status: 423) }
        return await worker.ask(request)
    }

    // MARK: bodies

    struct UnlockBody: Decodable { var passphrase: String }

    struct LoginBody: Decodable { var token: String }
    struct SendBody: Decodable { var to: String; var text: String }
    struct ForwardBody: Decodable { var id: String; var to: [String]; var note: String? }
    struct DowngradeBody: Decodable { var id: String; var to: String; var reason: String }
    struct ReadBody: Decodable { var conversation: String; var through: Int64 }
    struct SettingsBody: Decodable { var read_receipts: Bool }

    /// The body as `T`, or nil when it is not JSON of that shape, too long, or not sent as JSON.
    func decode<T: Decodable>(_ request: HTTPRequest, _ g: LocalGuard, limit: Int = Router.maxBody) async throws -> T? {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else { return nil }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { return nil }
        let data = try await request.bodyData
        guard data.count <= limit else { return nil }
        return try? JSONDecoder().decode(T.self, from: data)
    }

    // MARK: responses

    func secured(_ response: inout HTTPResponse, _ g: LocalGuard?) {
        if let g { response.headers[HTTPHeader("Content-Security-Policy")] = g.contentSecurityPolicy }
        response.headers[HTTPHeader("X-Content-Type-Options")] = "nosniff"
        response.headers[HTTPHeader("X-Frame-Options")] = "DENY"
        response.headers[HTTPHeader("Referrer-Policy")] = "no-referrer"
        response.headers[HTTPHeader("Cross-Origin-Opener-Policy")] = "same-origin"
        response.headers[HTTPHeader("Cross-Origin-Resource-Policy")] = "same-origin"
        response.headers[HTTPHeader("Cache-Control")] = "no-store"
    }

    private func asset(_ text: String, _ type: String, _ g: LocalGuard) -> HTTPResponse {
        var r = HTTPResponse(statusCode: .ok, headers: [.contentType: type], body: Data(text.utf8))
        secured(&r, g)
        return r
    }

    private func plain(_ status: Int, _ text: String, _ g: LocalGuard?) -> HTTPResponse {
        var r = HTTPResponse(statusCode: HTTPStatusCode(status, phrase: Self.phrase(status)), headers: [.contentType: "text/plain; charset=utf-8"],
                             body: Data(text.utf8))
        secured(&r, g)
        return r
    }

    func json(_ status: Int, _ object: Any, _ g: LocalGuard) -> HTTPResponse {
        respond(.json(object, status: status), g)
    }

    func error(_ status: Int, _ message: String, _ g: LocalGuard) -> HTTPResponse {
        respond(.error(message, status: status), g)
    }

    func respond(_ reply: WorkerReply, _ g: LocalGuard) -> HTTPResponse {
        var r = HTTPResponse(statusCode: HTTPStatusCode(reply.status, phrase: Self.phrase(reply.status)),
                             headers: [.contentType: "application/json"], body: reply.body)
        secured(&r, g)
        return r
    }

    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 202: return "Accepted"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 422: return "Unprocessable Content"
        case 423: return "Locked"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}

/// One browser tab's live events: the hub's JSON lines as WebSocket text messages.
struct EventSocket: WSMessageHandler {
    let hub: EventHub

    func makeMessages(for client: AsyncStream<WSMessage>) async throws -> AsyncStream<WSMessage> {
        let (id, events) = hub.subscribe()
        let (out, continuation) = AsyncStream<WSMessage>.makeStream()
        let hub = self.hub
        Task {
            // The tab sends nothing but pings and its close: when its stream ends, so does ours.
            for await _ in client {}
            hub.unsubscribe(id)
        }
        Task {
            continuation.yield(.text("{\"type\":\"hello\"}"))
            for await line in events { continuation.yield(.text(line)) }
            continuation.finish()
        }
        return out
    }
}
