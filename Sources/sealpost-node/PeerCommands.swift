import ArgumentParser
import Foundation
import SealpostCore
import SealpostNode

extension SealpostNodeCommand {
    struct Peer: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage the neighbouring nodes this node federates with (takes effect on a running node).",
            subcommands: [Add.self, Remove.self, List.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add (or update) a peer: its name, ROUTER and PUB endpoints and CURVE public key.",
                discussion: "Get these from the neighbour's operator: sealpost-node info --data DIR. They must add this node too.")

            @OptionGroup var options: DataOption
            @Argument(help: "The peer node's name.") var name: String
            @Argument(help: "Its ROUTER endpoint, e.g. tcp://10.2.0.5:7400.") var router: String
            @Argument(help: "Its PUB endpoint, e.g. tcp://10.2.0.5:7401.") var publish: String
            @Argument(help: "Its public key (40 characters of Z85).") var publicKey: String

            func run() throws {
                do {
                    try Operator.addPeer(dataDir: options.dir, peer: PeerConfig(name: name, router: router, publish: publish, publicKey: publicKey))
                    print("peer '\(name)' saved in \(options.dir.configPath); a running node connects within a second")
                } catch let error as NodeError { fail(error.description) }
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a peer.")
            @OptionGroup var options: DataOption
            @Argument(help: "The peer node's name.") var name: String

            func run() throws {
                do {
                    try Operator.removePeer(dataDir: options.dir, name: name)
                    print("peer '\(name)' removed; a running node drops the link within a second")
                } catch let error as NodeError { fail(error.description) }
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List configured peers.")
            @OptionGroup var options: DataOption
            @Flag(help: "One JSON object per line.") var json = false

            func run() throws {
                let config: NodeConfig
                do { config = try options.dir.loadConfig() } catch let error as NodeError { fail(error.description) }
                if json {
                    for p in config.peers {
                        printJSON(["name": p.name, "router": p.router, "publish": p.publish, "public_key": p.publicKey])
                    }
                } else if config.peers.isEmpty {
                    print("no peers: add one with sealpost-node peer add --data \(options.data) NAME ROUTER PUBLISH PUBLIC_KEY")
                } else {
                    for p in config.peers { print("\(p.name)  \(p.router)  \(p.publish)  \(p.publicKey)") }
                }
            }
        }
    }
}
