@testable import SealpostWeb
import XCTest

/// The guard's decisions as plain values, no sockets.
final class LocalGuardTests: XCTestCase {
    let g = LocalGuard(port: 41_000)

    func headers(_ h: [String: String]) -> (String) -> String? {
        { name in h.first { $0.key.lowercased() == name.lowercased() }?.value }
    }

    func session() -> (cookie: String, csrf: String) {
        let s = g.login(token: g.token)!
        return ("\(g.cookieName)=\(s.session)", s.csrf)
    }

    func testHostAndOriginAllowLists() {
        let ok = ["Host": "127.0.0.1:41000"]
        XCTAssertEqual(g.check(.asset, method: "GET", header: headers(ok)), .allow)
        XCTAssertEqual(g.check(.asset, method: "GET", header: headers(["Host": "LOCALHOST:41000"])), .allow)
        for host in ["evil.example:41000", "127.0.0.1", "127.0.0.1:41001", "127.0.0.2:41000", "[::1]:41000", "127.0.0.1:41000.evil.example", ""] {
            XCTAssertEqual(g.check(.asset, method: "GET", header: headers(["Host": host])),
                           .forbidden("the Host header must be 127.0.0.1:41000 or localhost:41000"), host)
        }
        XCTAssertNotEqual(g.check(.asset, method: "GET", header: headers([:])), .allow, "no Host at all")
        for origin in ["http://evil.example", "null", "https://127.0.0.1:41000", "http://127.0.0.1:41001", "http://127.0.0.1:41000.evil.example"] {
            XCTAssertNotEqual(g.check(.asset, method: "GET", header: headers(["Host": "127.0.0.1:41000", "Origin": origin])), .allow, origin)
        }
        XCTAssertNotEqual(g.check(.asset, method: "GET", header: headers(["Host": "127.0.0.1:41000", "Sec-Fetch-Site": "cross-site"])), .allow)
        XCTAssertEqual(g.check(.asset, method: "GET", header: headers(["Host": "127.0.0.1:41000", "Sec-Fetch-Site": "same-origin"])), .allow)
    }

    func testSessionCookieAndCSRF() {
        let (cookie, csrf) = session()
        let base = ["Host": "127.0.0.1:41000", "Origin": "http://127.0.0.1:41000"]
        XCTAssertEqual(g.check(.read, method: "GET", header: headers(base.merging(["Cookie": "other=1; " + cookie]) { $1 })), .allow)
        XCTAssertEqual(g.check(.read, method: "GET", header: headers(base)), .unauthorized("not logged in: open the link that 'sealpost web' printed"))
        XCTAssertEqual(g.check(.read, method: "GET", header: headers(base.merging(["Cookie": "sealpost_41001=" + cookie.split(separator: "=")[1]]) { $1 })),
                       .unauthorized("not logged in: open the link that 'sealpost web' printed"), "another port's cookie")
        XCTAssertEqual(g.check(.write, method: "POST", header: headers(base.merging(["Cookie": cookie, "X-Sealpost-CSRF": csrf]) { $1 })), .allow)
        XCTAssertNotEqual(g.check(.write, method: "POST", header: headers(base.merging(["Cookie": cookie]) { $1 })), .allow)
        XCTAssertNotEqual(g.check(.write, method: "POST", header: headers(base.merging(["Cookie": cookie, "X-Sealpost-CSRF": csrf + "x"]) { $1 })), .allow)
        XCTAssertNotEqual(g.check(.write, method: "POST", header: headers(["Host": "127.0.0.1:41000", "Cookie": cookie, "X-Sealpost-CSRF": csrf])),
                          .allow, "a write without Origin")
        XCTAssertNotEqual(g.check(.webSocket, method: "GET", header: headers(["Host": "127.0.0.1:41000", "Cookie": cookie])), .allow,
                          "a WebSocket without Origin")
    }

    func testTheTokenIsSingleUseAndTheCookieStrict() {
        let token = g.token
        XCTAssertNil(g.login(token: token + "x"))
        XCTAssertEqual(g.token, token, "a wrong try does not change the token")
        XCTAssertNotNil(g.login(token: token))
        XCTAssertNil(g.login(token: token))
        XCTAssertNotEqual(g.token, token)
        XCTAssertTrue(g.loginURL.hasPrefix("http://127.0.0.1:41000/#token="))
        let set = g.setCookie("abc")
        XCTAssertTrue(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.hasPrefix("sealpost_41000=abc;"), set)
    }
}
