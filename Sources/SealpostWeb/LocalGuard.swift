import Foundation
import Sodium
import Synchronization

/// The daemon's local attack surface, as pure decisions on request headers: no sockets.
///
/// - `Host` must be `127.0.0.1:PORT` or `localhost:PORT` (a DNS-rebinding page reaches us
///   with its own host name: refused).
/// - `Origin`, when present, must be one of the same two origins; requests that change state
///   and WebSocket upgrades must carry it (every browser sends it on them).
/// - `Sec-Fetch-Site: cross-site` is refused outright.
/// - `/api/*` needs the session cookie, which only a login with the per-launch token gives;
///   the token is single use and travels in the URL fragment (never sent to a server, kept out
///   of logs and the Referer).
/// - Requests that change state also need `X-Sealpost-CSRF` equal to the session's CSRF token,
///   which a page can only read from a same-origin response (no CORS headers, ever).
///
/// Sendable through a `Mutex` around the little state it keeps (the token, the sessions).
public final class LocalGuard: Sendable {
    public enum Verdict: Equatable, Sendable {
        case allow
        case forbidden(String)      // 403
        case unauthorized(String)   // 401
    }

    /// Where a request goes, for the checks it needs.
    public enum Access: Sendable {
        /// The UI's own files: Host (and Origin, when sent) only.
        case asset
        /// The login with the token: Host, Origin required.
        case login
        /// Reading data: Host, Origin when sent, the session cookie.
        case read
        /// Changing something, or a WebSocket: Host, Origin required, cookie, and for POSTs the CSRF header.
        case write
        case webSocket
    }

    public static let csrfHeader = "X-Sealpost-CSRF"

    public let port: UInt16
    /// The cookie's name carries the port: browsers do not separate cookies by port, and two
    /// people's daemons on one machine must not overwrite each other's session.
    public var cookieName: String { "sealpost_\(port)" }

    private struct State {
        var token: String
        /// session id → CSRF token.
        var sessions: [String: String] = [:]
    }
    private let state: Mutex<State>

    public init(port: UInt16) {
        self.port = port
        state = Mutex(State(token: Self.random()))
    }

    static func random() -> String { Sodium.base64(Sodium.randomBytes(32)) }

    /// The current one-time login token (for the URL printed and kept in the lock file).
    public var token: String { state.withLock { $0.token } }

    public var allowedHosts: [String] { ["127.0.0.1:\(port)", "localhost:\(port)"] }
    public var allowedOrigins: [String] { allowedHosts.map { "http://" + $0 } }

    /// The login URL: the token rides in the fragment.
    public var loginURL: String { "http://127.0.0.1:\(port)/#token=\(token)" }

    /// Decides on a request from its headers (names compared case-insensitively by the caller's lookup).
    public func check(_ access: Access, method: String, header: (String) -> String?) -> Verdict {
        guard let host = header("Host"), allowedHosts.contains(host.lowercased()) else {
            return .forbidden("the Host header must be 127.0.0.1:\(port) or localhost:\(port)")
        }
        let origin = header("Origin")
        if let origin, !allowedOrigins.contains(origin.lowercased()) {
            return .forbidden("requests from another origin are refused")
        }
        if header("Sec-Fetch-Site")?.lowercased() == "cross-site" {
            return .forbidden("cross-site requests are refused")
        }
        let changes = method != "GET" && method != "HEAD"
        switch access {
        case .asset:
            return changes ? .forbidden("only GET here") : .allow
        case .login:
            return origin == nil ? .forbidden("the login needs an Origin header") : .allow
        case .read, .write, .webSocket:
            if (changes || access == .webSocket) && origin == nil {
                return .forbidden("this request needs an Origin header")
            }
            guard let session = cookie(header("Cookie")), let csrf = state.withLock({ $0.sessions[session] }) else {
                return .unauthorized("not logged in: open the link that 'sealpost web' printed")
            }
            if changes {
                guard let sent = header(Self.csrfHeader), Sodium.constantTimeEqual(Array(sent.utf8), Array(csrf.utf8)) else {
                    return .forbidden("the \(Self.csrfHeader) header is missing or wrong")
                }
            }
            return .allow
        }
    }

    /// The session id in a Cookie header, if it carries ours.
    func cookie(_ header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            guard let eq = pair.firstIndex(of: "="), pair[..<eq] == cookieName else { continue }
            let value = String(pair[pair.index(after: eq)...])
            if value.count <= 64 { return value }
        }
        return nil
    }

    /// The CSRF token of the request's session (after `check` allowed it).
    public func csrf(cookieHeader: String?) -> String? {
        guard let session = cookie(cookieHeader) else { return nil }
        return state.withLock { $0.sessions[session] }
    }

    /// Exchanges the one-time token for a new session. The token is replaced at once, used or
    /// not used again, so a token seen once (a screen, a history) is worth nothing after.
    /// - Returns: the session id (for the cookie) and its CSRF token; nil for a wrong token.
    public func login(token sent: String) -> (session: String, csrf: String)? {
        state.withLock { s in
            guard Sodium.constantTimeEqual(Array(sent.utf8), Array(s.token.utf8)) else { return nil }
            s.token = Self.random()
            let session = Self.random(), csrf = Self.random()
            s.sessions[session] = csrf
            return (session, csrf)
        }
    }

    /// The Set-Cookie value for a session: HttpOnly, SameSite=Strict, the whole site.
    public func setCookie(_ session: String) -> String {
        "\(cookieName)=\(session); Path=/; HttpOnly; SameSite=Strict"
    }

    /// The Content-Security-Policy of every response: nothing but this origin, no inline script or style.
    public var contentSecurityPolicy: String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            + "connect-src 'self' ws://127.0.0.1:\(port) ws://localhost:\(port); "
            + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    }
}
