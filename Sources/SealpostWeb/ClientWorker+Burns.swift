import Foundation
import SealpostClient
import SealpostCore
import Sodium

extension ClientWorker.Engine {
    /// Sends a burn-after-reading message (a text, up to 6 images, or both). It is stored
    /// before this returns, and it never enters the outbox or the history: the history
    /// keeps only that one was sent (no content), as it does for those received.
    func sendBurn(to: String, text: String, images: [Burn.Image]) throws -> WorkerReply {
        guard let address = Address(to) else { return .error("'\(to.prefix(80))' is not an address (user@node)", status: 400) }
        let group = books.groups.groups[address.description]
        let envelope = try client.prepareBurn(to: address, text: text, images: images, members: group?.members)
        try client.store(envelope)
        books.burns.recordSent(envelope)
        try books.save()
        let record = try history.record(id: envelope.id.hex, conversation: address.description, isGroup: group != nil, outgoing: true,
                                        from: me, kind: "burn", text: "", sentAt: envelope.sentAt, state: .stored,
                                        readableUntil: envelope.label?.readableUntil ?? 0)
        if let record { publishMessage(record) }
        return .json(["id": envelope.id.hex, "message": jsonOrNull(record)])
    }

    /// Views a received burn message: the node hands it over once and deletes it. The content
    /// goes to the browser in this answer only; images come back with the viewer's watermark
    /// written into them (an SVG around the picture). A second view is refused by the node (410).
    func viewBurn(_ id: String) throws -> WorkerReply {
        guard let burn = MessageID(hex: id), let notice = try history.message(id: id), notice.kind == "burn", !notice.outgoing else {
            return .error("no burn message \(id.prefix(40)) was received here", status: 404)
        }
        let viewed: ViewedBurn
        do {
            viewed = try client.view(burn)
        } catch ClientError.refused(let code, let reason) where code == 410 || code == 404 {
            books.burns.mark(burn, state: "burned")
            try? books.save()
            try history.setIncomingState(id: id, .burned)
            publishUpdate(id)
            return .error(reason, status: 410)
        }
        books.burns.mark(burn, state: "viewed")
        try books.save()
        try history.setIncomingState(id: id, .viewed)
        publishUpdate(id)
        // The viewer's node issues a viewer code for this view and logs it (SPEC 11.7.6), so a
        // photo of the screen leads back here with `sealpost trace --code`. Without one (an older
        // node) the watermark still names the viewer and the time.
        let mark = try? client.viewerMark(for: burn, burn: true)
        let at = mark?.at ?? Clock.nowMs()
        let line = mark?.line ?? Watermark.line(viewer: me, at: at)
        let images: [[String: Any]] = viewed.images.map { image in
            if let svg = Watermark.svg(image: image.data, text: line) {
                return ["name": image.name, "src": "data:image/svg+xml;base64," + Data(svg).base64EncodedString()]
            }
            return ["name": image.name, "src": NSNull(), "size": image.data.count]
        }
        return .json(["id": id, "from": viewed.from, "from_name": name(of: viewed.from, isGroup: false), "sent_at": viewed.sentAt,
                      "text": viewed.text, "images": images, "viewer": me, "viewed_at": at, "watermark": line,
                      "viewer_code": mark?.code ?? NSNull()])
    }

    /// Tells a burn message's sender that its content was captured on this device.
    func reportCapture(_ id: String, how: String) throws -> WorkerReply {
        guard let burn = MessageID(hex: id), let notice = try history.message(id: id), notice.kind == "burn", !notice.outgoing,
              let sender = Address(notice.from) else {
            return .error("no burn message \(id.prefix(40)) was received here", status: 404)
        }
        _ = try client.reportCapture(burn: burn, sender: sender, how: how)
        return .json(["id": id, "reported": true])
    }

    /// How a burn message stands: for one sent, each node's signed deletion receipt and the
    /// capture reports; for one received, whether it waits or is gone.
    func burnJSON(_ r: History.Record) -> [String: Any] {
        if r.outgoing {
            let sent = books.burns.sent(r.id)
            let receipts = books.burns.receipts(r.id).map { HistoryEntry.receipt(client.check(receipt: $0)) }
            let captures = (sent?.captures ?? []).map { ["by": $0.by, "by_name": name(of: $0.by, isGroup: false), "at": $0.at, "how": $0.how] }
            return ["images": sent?.images ?? 0, "expires_at": sent?.expires_at ?? 0, "receipts": receipts, "captures": captures]
        }
        let received = books.burns.received(r.id)
        return ["images": received?.images ?? 0, "expires_at": received?.expires_at ?? 0]
    }

    func jsonOrNull(_ r: History.Record?) -> Any {
        if let r { return json(r) }
        return NSNull()
    }

    func publishUpdate(_ id: String) {
        guard let r = try? history.message(id: id) else { return }
        hub.publish(["type": "update", "message": json(r)])
    }
}
