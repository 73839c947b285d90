import Foundation
import Synchronization

/// Exactly one web daemon per profile: an exclusive `flock` on `PROFILE.web.lock`, held for
/// the daemon's life (the kernel drops it when the process dies, so a crash leaves no stale
/// lock). The file (mode 0600) says where the running daemon is: its pid and a login URL,
/// which a second start prints instead of starting.
final class WebLock: Sendable {
    let path: String
    /// The locked descriptor; -1 once released.
    private let descriptor: Mutex<Int32>

    /// Takes the lock.
    /// - Throws: `WebError.alreadyRunning` with the holder's pid and URL; `WebError.io` otherwise.
    init(profilePath: String) throws {
        path = profilePath + ".web.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WebError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        descriptor = Mutex(fd)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let busy = errno == EWOULDBLOCK
            let holder = Self.read(path)
            close(fd)
            descriptor.withLock { $0 = -1 }
            if busy { throw WebError.alreadyRunning(pid: holder?.pid ?? 0, url: holder?.url ?? "(unknown: see \(path))") }
            throw WebError.io("cannot lock \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Records where this daemon is (called again when the login URL changes).
    func publish(pid: Int32, url: String) {
        let text = Array("{\"pid\":\(pid),\"url\":\"\(url)\"}\n".utf8)
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = ftruncate(fd, 0)
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            _ = fsync(fd)
        }
    }

    static func read(_ path: String) -> (pid: Int32, url: String)? {
        guard let data = FileManager.default.contents(atPath: path),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let pid = object["pid"] as? Int, let url = object["url"] as? String else { return nil }
        return (Int32(pid), url)
    }

    /// Releases the lock and empties the file.
    func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = ftruncate(fd, 0)
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}
