import ArgumentParser
import Foundation
import SealpostCore
import SealpostNode

extension SealpostNodeCommand {
    struct Directory: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What this node keeps of other nodes' directories and their pinned signing keys (on a running node).",
            subcommands: [List.self, Forget.self, Unpin.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List the other nodes: pinned signing key, directory version held, entries, next hop.")
            @OptionGroup var options: DataOption
            @Flag(help: "Print as JSON.") var json = false

            func run() throws {
                let answer: [String: Any]
                do { answer = try AdminClient.request(dataDir: options.dir, ["cmd": "directory-list"]) } catch let error as NodeError {
                    fail(error.description)
                }
                if json { printJSON(answer); return }
                let nodes = answer["nodes"] as? [[String: Any]] ?? []
                if nodes.isEmpty {
                    print("no other node known yet (they appear once a peer announces them)")
                    return
                }
                print(pad("NODE", 14) + pad("VERSION", 9) + pad("ENTRIES", 9) + pad("VIA", 14) + "SIGN KEY")
                for n in nodes {
                    let via = (n["route"] as? String) ?? "no route"
                    print(pad(n["node"] as? String ?? "", 14) + pad("\(n["version"] ?? 0)", 9) + pad("\(n["entries"] ?? 0)", 9)
                          + pad(n["peer"] as? Bool == true ? "\(via) (peer)" : via, 14) + ((n["sign_key"] as? String) ?? "not pinned"))
                }
            }
        }

        struct Forget: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Drop what this node keeps of NODE's directory and its version; the next snapshot is taken fresh.",
                discussion: "The pinned key stays. Use it when NODE's directory here is wrong or stuck (e.g. NODE was restored with a lower version).")
            @OptionGroup var options: DataOption
            @Argument(help: "The other node's name.") var node: String
            @Flag(help: "Print as JSON.") var json = false

            func run() throws {
                let answer: [String: Any]
                do { answer = try AdminClient.request(dataDir: options.dir, ["cmd": "directory-forget", "node": node]) } catch let error as NodeError {
                    fail(error.description)
                }
                if json { printJSON(answer); return }
                print("forgot the directory of '\(node)': \(answer["entries_removed"] ?? 0) entries, version \(answer["version_forgotten"] ?? 0)")
                print("its directory is copied again from the next hop toward '\(node)' within a few seconds (sealpost-node directory list)")
            }
        }

        struct Unpin: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Forget NODE's pinned signing key and its directory (a unit that rebuilt its node with new keys).",
                discussion: """
                    The next key announced for NODE is pinned again on first use. Compare it (sealpost-node directory list) \
                    with the sign key NODE's operator reads from sealpost-node info before trusting it. \
                    A configured peer needs no unpin: replace it with sealpost-node peer add.
                    """)
            @OptionGroup var options: DataOption
            @Argument(help: "The other node's name.") var node: String
            @Flag(help: "Print as JSON.") var json = false

            func run() throws {
                let answer: [String: Any]
                do { answer = try AdminClient.request(dataDir: options.dir, ["cmd": "directory-unpin", "node": node]) } catch let error as NodeError {
                    fail(error.description)
                }
                if json { printJSON(answer); return }
                print("unpinned the signing key of '\(node)' (was \((answer["unpinned_sign_key"] as? String) ?? "not pinned"))")
                print("forgot its directory: \(answer["entries_removed"] ?? 0) entries, version \(answer["version_forgotten"] ?? 0)")
                print("""
                    the next key announced for '\(node)' is pinned on first use: check it with
                      sealpost-node directory list --data \(options.data)
                    against the sign key that '\(node)''s operator reads from sealpost-node info
                    """)
            }
        }
    }
}
