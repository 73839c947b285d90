import ArgumentParser
import Dispatch
import Foundation
import SealpostClient
import SealpostCore

extension SealpostCommand {
    struct SendFile: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "send-file",
            abstract: "Send a file (up to 2 GiB) to a person or a group; run it again to continue an interrupted upload.",
            discussion: "The file is encrypted here in 128 KiB chunks before it leaves the device, stored on your own node, and fetched by each recipient from theirs.")

        @Argument(help: "The recipient, user@node, or a group, group@node.") var address: String
        @Argument(help: "The file to send.") var path: String
        @Flag(help: "Burn after reading: each recipient can fetch it once; then every node deletes it and sends you a signed receipt.")
        var burn = false
        @OptionGroup var labels: LabelOption
        @OptionGroup var policy: ForwardPolicyOptions
        @OptionGroup var profile: ProfileOption
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            let to = parseAddress(address)
            var info = stat()
            guard stat(path, &info) == 0 else { fail("cannot read \(path): \(String(cString: strerror(errno)))") }
            if UInt64(info.st_size) > FileChunks.maxFileBytes { fail(FileChunks.tooLargeMessage(size: UInt64(info.st_size))) }
            let p = profile.load()
            do {
                let client = try profile.client(p)
                defer { client.close() }
                labels.apply(to: client)
                client.forwardPolicy = policy.policy
                let members = GroupBook(profilePath: profile.path).groups[to.description]?.members
                let meter = ProgressMeter(label: "upload")
                let sent = try client.sendFile(to: to, path: path, groupMembers: members, burn: burn,
                                               uploads: UploadBook(profilePath: profile.path)) { done, total in
                    meter.update(done, total)
                }
                meter.finish()
                if burn {
                    let books = ProfileBooks(profilePath: profile.path, me: p.address.description)
                    books.burns.recordSentFile(sent.id, to: to.description, sentAt: Clock.nowMs())
                    try books.save()
                }
                if json {
                    print(jsonLine(["id": sent.id.hex, "to": to.description, "status": "stored", "kind": "file",
                                    "file": ["id": sent.fileId.hex, "name": sent.name, "size": sent.size, "burn": burn],
                                    "resumed_chunks": sent.resumedChunks]))
                } else {
                    print("sent \(burn ? "burn-after-reading " : "")file \(sent.name) (\(sent.size) bytes) to \(to)\(sent.resumedChunks > 0 ? ", continuing an earlier upload" : ""); file id \(sent.fileId.hex)"
                          + (burn ? "; receipts: sealpost receipts \(sent.id.hex)" : ""))
                }
            } catch { fail("\(error)") }
        }
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a file you received (its id is in 'sealpost inbox'); run it again to continue an interrupted download.",
            discussion: "The file is checked against the hash its sender sealed, and appears under its name only when complete.")

        @Argument(help: "The file id (or a unique prefix of it).") var id: String
        @Option(name: .shortAndLong, help: "Where to write it: a file path, or a directory (default: its name in the current directory).") var output: String?
        @Option(help: "For a burn-after-reading file: seconds it stays in the private viewing folder before it is wiped (1-3600).")
        var window: Int = 60
        @OptionGroup var profile: ProfileOption
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            let p = profile.load()
            guard let (manifest, from) = FileBook(profilePath: profile.path).manifest(id) else {
                fail("no received file with id '\(id)' (run 'sealpost inbox' to see what arrived)")
            }
            // Never a path from the sender: only its last component, and no hidden or empty name.
            var name = manifest.name.split(separator: "/").last.map(String.init) ?? ""
            while name.hasPrefix(".") { name.removeFirst() }
            if name.isEmpty { name = "file-" + String(manifest.fileId.hex.prefix(8)) }
            if manifest.flags & Burn.manifestFlag != 0 { return viewOnce(manifest, from: from, name: name, profile: p) }
            var target = output ?? name
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: target, isDirectory: &isDir), isDir.boolValue {
                target = (target.hasSuffix("/") ? target : target + "/") + name
            } else if output == nil, FileManager.default.fileExists(atPath: target) {
                fail("\(target) already exists; choose where to write it with -o PATH")
            }
            do {
                let client = try profile.client(p)
                defer { client.close() }
                let meter = ProgressMeter(label: "fetch")
                let fetched = try client.fetchFile(manifest, to: target) { done, total in meter.update(done, total) }
                meter.finish()
                let viewerMark = markView(client, manifest.fileId, burn: false)
                let mark = viewerMark?.line ?? Watermark.line(viewer: p.address.description, at: Clock.nowMs())
                if json {
                    print(jsonLine(["id": manifest.fileId.hex, "from": from, "name": manifest.name, "path": fetched.path,
                                    "size": fetched.size, "status": "fetched", "resumed_chunks": fetched.resumedChunks,
                                    "watermark": mark, "viewer_code": viewerMark?.code ?? NSNull()]))
                } else {
                    print("--- \(mark) ---")
                    print("fetched \(manifest.name) (\(fetched.size) bytes) from \(from) into \(fetched.path); hash verified")
                }
            } catch { fail("\(error)") }
        }
    }
}

extension SealpostCommand.Fetch {
    /// A burn-after-reading file: fetched once into a private viewing folder (never to `-o`),
    /// wiped after the window even if interrupted; the nodes delete it and send its sender receipts.
    func viewOnce(_ manifest: FileManifest, from: String, name: String, profile p: Profile) {
        guard (1...3600).contains(window) else { fail("--window must be 1 to 3600 seconds") }
        if output != nil { fail("a burn-after-reading file is only shown in a private folder and wiped; it cannot be saved with -o") }
        ViewFolder.sweep()
        let now = Clock.nowMs()
        let folder: ViewFolder
        do { folder = try ViewFolder(id: manifest.fileId, wipeAtMs: now + UInt64(window) * 1000) } catch { fail("\(error)") }
        folder.wipeLater()
        let target = folder.path + "/" + name
        do {
            let client = try profile.client(p)
            defer { client.close() }
            let meter = ProgressMeter(label: "fetch")
            let fetched = try client.fetchFile(manifest, to: target) { done, total in meter.update(done, total) }
            meter.finish()
            let viewerMark = markView(client, manifest.fileId, burn: true)
            let mark = viewerMark?.line ?? Watermark.line(viewer: p.address.description, at: now)
            if json {
                print(jsonLine(["id": manifest.fileId.hex, "from": from, "name": manifest.name, "path": fetched.path, "size": fetched.size,
                                "status": "fetched", "burn": true, "watermark": mark, "viewer_code": viewerMark?.code ?? NSNull(),
                                "folder": folder.path,
                                "wipe_at": Clock.rfc3339(ms: folder.wipeAtMs)]))
            } else {
                print("--- \(mark) ---")
                print("burn after reading: \(manifest.name) (\(fetched.size) bytes) from \(from), hash verified: \(fetched.path)")
                print("(wiped in \(window) s; it no longer exists on any node)")
            }
        } catch ClientError.refused(let code, let reason) where code == ErrorCode.gone.rawValue {
            folder.wipe()
            fail("this file has been burned: \(reason)")
        } catch {
            folder.wipe()
            fail("\(error)")
        }
        fflush(nil)
        folder.holdThenWipe(seconds: window)
    }
}
