import SealpostClient
import SealpostCore
import SealpostNode
import SealpostTestSupport
import Sodium
import XCTest

extension XCTestCase {
    /// Waits until `client` can look up `address` (its directory entry reached the client's node), or fails.
    func waitUntilKnown(_ client: Client, _ address: String, timeout: Double = 20) throws {
        do {
            try SealpostTestSupport.waitUntilKnown(client, address, timeout: timeout)
        } catch let error as TimedOut {
            XCTFail(error.description)
        }
    }

    /// Two peered units: `alice@hq` and `wu@traffic`, each already in the other's directory;
    /// `hqConfig` and `trafficConfig` adjust each node's node.yaml before it starts.
    func twoUnits(hqConfig: (inout NodeConfig) -> Void = { _ in }, trafficConfig: (inout NodeConfig) -> Void = { _ in }) throws
        -> (hq: TestNode, traffic: TestNode, alice: Client, wu: Client) {
        let hq = try TestNode(name: "hq", create: hqConfig), traffic = try TestNode(name: "traffic", create: trafficConfig)
        try hq.start()
        try traffic.start()
        try hq.peer(with: traffic)
        let alice = try Client(profile: try hq.join("alice"))
        let wu = try Client(profile: try traffic.join("wu"))
        try waitUntilKnown(alice, "wu@traffic")
        try waitUntilKnown(wu, "alice@hq")
        return (hq, traffic, alice, wu)
    }

    /// Three units in a line, hq — traffic — district (district reached only through traffic),
    /// with `alice@hq`, `bob@hq`, `wu@traffic` and `zhao@district`, everyone in everyone's directory.
    func threeUnits() throws -> (nodes: [TestNode], alice: Client, bob: Client, wu: Client, zhao: Client) {
        let hq = try TestNode("hq"), traffic = try TestNode("traffic"), district = try TestNode("district")
        for n in [hq, traffic, district] { try n.start() }
        try hq.peer(with: traffic)
        try traffic.peer(with: district)
        let alice = try Client(profile: try hq.join("alice"))
        let bob = try Client(profile: try hq.join("bob"))
        let wu = try Client(profile: try traffic.join("wu"))
        let zhao = try Client(profile: try district.join("zhao"))
        try waitUntilKnown(alice, "zhao@district")
        try waitUntilKnown(alice, "wu@traffic")
        try waitUntilKnown(zhao, "wu@traffic")
        try waitUntilKnown(zhao, "alice@hq")
        try waitUntilKnown(wu, "zhao@district")
        try waitUntilKnown(wu, "alice@hq")
        return ([hq, traffic, district], alice, bob, wu, zhao)
    }
}

/// A node `hq` with user `bob` and a configured `FakePeerNode` connected to it.
func hqWithFakePeer(deliveredReceipts: Bool = false) throws -> (TestNode, FakePeerNode, Client) {
    let hq = try TestNode("hq")
    hq.deliveredReceipts = deliveredReceipts
    try hq.start()
    let bob = try Client(profile: try hq.join("bob"))
    let fake = try FakePeerNode()
    try fake.configure(on: hq)
    return (hq, fake, bob)
}

/// mallory@fake in the fake peer's directory, once `bob` sees her entry: her keys and the key
/// she seals to bob with (for envelopes a modified client or a lying relay makes).
func malloryOnTheFake(_ fake: FakePeerNode, seenBy bob: Client) throws -> (box: BoxKeyPair, sign: SignKeyPair, toBob: BoxSharedKey) {
    let mallory = BoxKeyPair.generate(), mallorySign = SignKeyPair.generate()
    fake.serveDirectory([DirectoryEntry(address: "mallory@fake", display: "Mallory", boxKey: mallory.publicKey,
                                        signKey: mallorySign.publicKey, updatedAt: 1)])
    try fake.run("hq to take mallory's entry") { (try? bob.lookup(Address("mallory@fake")!)) != nil }
    let bobEntry = try bob.lookup(Address("bob@hq")!)
    let key = try XCTUnwrap(BoxSharedKey(theirPublicKey: bobEntry.boxKey, mySecretKey: mallory.secretKey))
    return (mallory, mallorySign, key)
}
