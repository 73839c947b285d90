import Foundation
import Synchronization

/// One receiving process per profile.
///
/// The node pushes a user's mailbox to one session only (the newest ATTACH), and
/// the seen log is written by one process: two `inbox`/`chat` on the same profile
/// would take deliveries from each other and write over each other's seen log.
/// So a command that receives holds an exclusive `flock` on `PROFILE.lock` for as
/// long as it runs; a second one is refused with the first one's pid. The kernel
/// releases the lock when the process ends, however it ends (even `kill -9`).
public final class ProfileLock: Sendable {
    public let path: String
    /// The locked descriptor; -1 once released.
    private let descriptor: Mutex<Int32>

    /// Takes the lock of the profile at `profilePath`, or refuses at once.
    /// - Throws: `ClientError.busy` when another process holds it (with its pid);
    ///   `ClientError.io` when the lock file cannot be opened.
    public init(profilePath: String) throws {
        path = profilePath + ".lock"
        let dir = PrivateFile.directory(of: profilePath)
        if !dir.isEmpty {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ClientError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            guard busy else { throw ClientError.io("cannot lock \(path): \(reason)") }
            let holder = n > 0 ? Int32(String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) : nil
            throw ClientError.busy("this profile is already in use by another sealpost process\(holder.map { " (pid \($0))" } ?? ""); close it first")
        }
        descriptor = Mutex(fd)
        // Ours now: say who holds it, for the message a second process prints.
        let pid = Data("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { PrivateFile.writeAll(fd, $0, at: 0) }
        // Temp files of the profile's books left by a process killed mid-write.
        PrivateFile.removeStaleTemps(of: profilePath, andBooks: true)
    }

    /// Gives the profile back before the end of the process (a daemon that stops).
    public func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}
