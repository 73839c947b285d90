import ArgumentParser
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
                let members = GroupBook(profilePath: profile.path).groups[to.description]?.members
                let meter = ProgressMeter(label: "upload")
                let sent = try client.sendFile(to: to, path: path, groupMembers: members, uploads: UploadBook(profilePath: profile.path)) { done, total in
                    meter.update(done, total)
                }
                meter.finish()
                if json {
                    print(jsonLine(["id": sent.id.hex, "to": to.description, "status": "stored", "kind": "file",
                                    "file": ["id": sent.fileId.hex, "name": sent.name, "size": sent.size],
                                    "resumed_chunks": sent.resumedChunks]))
                } else {
                    print("sent file \(sent.name) (\(sent.size) bytes) to \(to)\(sent.resumedChunks > 0 ? ", continuing an earlier upload" : ""); file id \(sent.fileId.hex)")
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
                if json {
                    print(jsonLine(["id": manifest.fileId.hex, "from": from, "name": manifest.name, "path": fetched.path,
                                    "size": fetched.size, "status": "fetched", "resumed_chunks": fetched.resumedChunks]))
                } else {
                    print("fetched \(manifest.name) (\(fetched.size) bytes) from \(from) into \(fetched.path); hash verified")
                }
            } catch { fail("\(error)") }
        }
    }
}
