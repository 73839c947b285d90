import FlyingFox
import Foundation
import SealpostClient
import SealpostCore
import Sodium

/// The routes of groups, reminders, contact cards, burn-after-reading and files. Each checks
/// its input's shape and ranges here; the client thread checks what needs the profile.
extension Router {
    /// Largest burn message body taken: 6 images of 2 MiB, base64 in JSON, and a 64 KiB text.
    static let maxBurnBody = 18 * 1024 * 1024
    /// Largest piece of a file the browser hands over in one request.
    static let maxUploadPiece = 4 * 1024 * 1024

    struct GroupCreateBody: Decodable { var name: String; var members: [String] }
    struct GroupChangeBody: Decodable { var group: String; var op: String; var members: [String]? }
    struct RemindBody: Decodable { var to: String; var due_at: UInt64; var text: String }
    struct IdBody: Decodable { var id: String }
    struct CardBody: Decodable { var to: String; var contact: String }
    struct BurnBody: Decodable {
        struct Image: Decodable { var name: String; var data: String }
        var to: String
        var text: String
        var images: [Image]
    }
    struct CaptureBody: Decodable { var id: String; var how: String }
    struct UploadBody: Decodable { var name: String; var size: UInt64 }
    struct SendFileBody: Decodable { var to: String; var upload: String }
    struct FetchBody: Decodable { var file_id: String }

    func featureRoute(method: String, path: String, request: HTTPRequest, _ g: LocalGuard, header: (String) -> String?,
                      refuse: (LocalGuard.Verdict) -> HTTPResponse?) async throws -> HTTPResponse? {
        func write() -> HTTPResponse? { refuse(g.check(.write, method: method, header: header)) }
        func read() -> HTTPResponse? { refuse(g.check(.read, method: method, header: header)) }
        func isID(_ s: String) -> Bool { s.count == 32 && s.allSatisfy { $0.isHexDigit && !$0.isUppercase } }
        switch (method, path) {
        // MARK: groups
        case ("POST", "/api/groups"):
            if let r = write() { return r }
            guard let body: GroupCreateBody = try await decode(request, g), body.members.count <= 500 else {
                return error(400, "the body must be JSON {\"name\": string, \"members\": [address]}", g)
            }
            guard Name.isValid(body.name) else { return error(400, "'\(body.name.prefix(40))' is not a valid group name: \(Name.rule)", g) }
            return respond(await ask(.createGroup(name: body.name, members: body.members)), g)
        case ("POST", "/api/groups/change"):
            if let r = write() { return r }
            guard let body: GroupChangeBody = try await decode(request, g), (body.members ?? []).count <= 500 else {
                return error(400, "the body must be JSON {\"group\": address, \"op\": add|remove|admin|leave, \"members\": [address]}", g)
            }
            let ops: [String: Group.Op] = ["add": .add, "remove": .remove, "admin": .admin, "leave": .leave]
            guard let op = ops[body.op] else { return error(400, "op must be add, remove, admin or leave", g) }
            return respond(await ask(.group(op: op, group: body.group, members: body.members ?? [])), g)

        // MARK: reminders
        case ("POST", "/api/remind"):
            if let r = write() { return r }
            guard let body: RemindBody = try await decode(request, g) else {
                return error(400, "the body must be JSON {\"to\": address, \"due_at\": ms since 1970, \"text\": string}", g)
            }
            let now = Clock.nowMs()
            guard body.due_at > now else { return error(400, "the reminder's time is in the past", g) }
            guard body.due_at <= now + Reminder.maxAheadMs else { return error(400, "a reminder may be set at most a year ahead", g) }
            guard !body.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, body.text.utf8.count <= Sealed.maxTextBytes else {
                return error(400, "the reminder needs a text of at most 64 KiB", g)
            }
            return respond(await ask(.remind(to: body.to, dueAt: body.due_at, text: body.text)), g)
        case ("GET", "/api/reminders"):
            if let r = read() { return r }
            return respond(await ask(.reminders), g)
        case ("POST", "/api/reminders/done"):
            if let r = write() { return r }
            guard let body: IdBody = try await decode(request, g), isID(body.id) else { return error(400, "the body must be JSON {\"id\": reminder id}", g) }
            return respond(await ask(.reminderDone(id: body.id)), g)

        // MARK: contact cards
        case ("POST", "/api/card"):
            if let r = write() { return r }
            guard let body: CardBody = try await decode(request, g) else {
                return error(400, "the body must be JSON {\"to\": address, \"contact\": address}", g)
            }
            return respond(await ask(.sendCard(to: body.to, contact: body.contact)), g)

        // MARK: burn after reading
        case ("POST", "/api/burn"):
            if let r = write() { return r }
            guard let body: BurnBody = try await decode(request, g, limit: Self.maxBurnBody) else {
                return error(400, "the body must be JSON {\"to\": address, \"text\": string, \"images\": [{\"name\", \"data\": base64}]} of at most 18 MiB", g)
            }
            guard body.images.count <= Burn.maxImages else { return error(400, "a burn message holds at most \(Burn.maxImages) images", g) }
            var images: [Burn.Image] = []
            for image in body.images {
                guard let data = Data(base64Encoded: image.data), !data.isEmpty, data.count <= Burn.maxImageBytes else {
                    return error(400, "image '\(image.name.prefix(40))' is empty, not base64, or over \(Burn.maxImageBytes / 1024 / 1024) MiB", g)
                }
                guard ImageInfo([UInt8](data.prefix(65536))) != nil || ImageInfo([UInt8](data)) != nil else {
                    return error(400, "'\(image.name.prefix(40))' is not a PNG, JPEG, GIF or WebP picture", g)
                }
                guard image.name.utf8.count <= Burn.maxNameBytes else { return error(400, "an image name is longer than 255 bytes", g) }
                images.append(Burn.Image(name: image.name, data: [UInt8](data)))
            }
            guard body.text.utf8.count <= Sealed.maxTextBytes else { return error(400, "the text is over 64 KiB", g) }
            return respond(await ask(.sendBurn(to: body.to, text: body.text, images: images)), g)
        case ("POST", "/api/burn/view"):
            if let r = write() { return r }
            guard let body: IdBody = try await decode(request, g), isID(body.id) else { return error(400, "the body must be JSON {\"id\": message id}", g) }
            return respond(await ask(.viewBurn(id: body.id)), g)
        case ("POST", "/api/mark"):
            // A viewer code for showing a received picture or file (its node issues and logs it).
            if let r = write() { return r }
            guard let body: IdBody = try await decode(request, g), isID(body.id) else { return error(400, "the body must be JSON {\"id\": message id}", g) }
            return respond(await ask(.viewerMark(id: body.id)), g)
        case ("POST", "/api/burn/capture"):
            if let r = write() { return r }
            guard let body: CaptureBody = try await decode(request, g), isID(body.id), (1...64).contains(body.how.utf8.count) else {
                return error(400, "the body must be JSON {\"id\": message id, \"how\": string of 1 to 64 bytes}", g)
            }
            return respond(await ask(.reportCapture(id: body.id, how: body.how)), g)

        // MARK: files
        case ("POST", "/api/uploads"):
            if let r = write() { return r }
            guard let body: UploadBody = try await decode(request, g) else { return error(400, "the body must be JSON {\"name\": string, \"size\": bytes}", g) }
            guard Uploads.isValidName(body.name) else { return error(400, "'\(body.name.prefix(40))' cannot be a file name (no '/', not starting with '.', at most 255 bytes)", g) }
            guard body.size > 0, body.size <= FileChunks.maxFileBytes else { return error(400, FileChunks.tooLargeMessage(size: body.size), g) }
            guard core.worker != nil else { return error(423, "locked: give your passphrase first", g) }
            let staged = try core.uploads.create(name: body.name, size: body.size)
            return json(200, ["id": staged.id, "received": 0, "size": staged.size], g)
        case ("POST", "/api/send-file"):
            if let r = write() { return r }
            guard let body: SendFileBody = try await decode(request, g), isID(body.upload) else {
                return error(400, "the body must be JSON {\"to\": address, \"upload\": upload id}", g)
            }
            guard let staged = core.uploads.get(body.upload), core.uploads.received(body.upload) == staged.size else {
                return error(409, "that upload is not complete on this device yet", g)
            }
            let target = await ask(.fileTarget(to: body.to))
            guard target.status == 200, let object = (try? JSONSerialization.jsonObject(with: target.body)) as? [String: Any],
                  let to = object["to"] as? String, let transfers = core.transfers else { return respond(target, g) }
            transfers.start(.upload(id: staged.id, to: to, path: staged.path, members: object["members"] as? [String]))
            return json(202, ["transfer": staged.id], g)
        case ("POST", "/api/fetch"):
            if let r = write() { return r }
            guard let body: FetchBody = try await decode(request, g), isID(body.file_id) else { return error(400, "the body must be JSON {\"file_id\": id}", g) }
            guard let transfers = core.transfers else { return error(423, "locked: give your passphrase first", g) }
            if transfers.localFile(body.file_id) != nil { return json(200, ["file_id": body.file_id, "ready": true], g) }
            let reply = await ask(.fileManifest(fileId: body.file_id))
            guard reply.status == 200, let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any],
                  let bytes = (object["manifest"] as? String).flatMap(Sodium.fromBase64),
                  let manifest = try? FileManifest.decode(bytes) else { return respond(reply, g) }
            guard manifest.flags & Burn.manifestFlag == 0 else {
                return error(400, "a view-once file is opened with 'sealpost fetch', not in the browser", g)
            }
            transfers.start(.download(fileId: body.file_id, manifest: manifest))
            return json(202, ["file_id": body.file_id, "ready": false], g)
        default:
            break
        }
        if path.hasPrefix("/api/uploads/") {
            let id = String(path.dropFirst("/api/uploads/".count))
            if let r = method == "GET" ? read() : write() { return r }
            guard isID(id), core.uploads.get(id) != nil else { return error(404, "no such upload", g) }
            switch method {
            case "GET":
                return json(200, ["id": id, "received": core.uploads.received(id) ?? 0, "size": core.uploads.get(id)?.size ?? 0], g)
            case "PUT":
                guard let offset = request.query["offset"].flatMap(UInt64.init) else { return error(400, "offset must be a byte count", g) }
                if let length = request.headers[.contentLength].flatMap(Int.init), length > Self.maxUploadPiece {
                    return error(413, "a piece is at most \(Self.maxUploadPiece) bytes", g)
                }
                let data = try await request.bodyData
                guard data.count <= Self.maxUploadPiece else { return error(413, "a piece is at most \(Self.maxUploadPiece) bytes", g) }
                do {
                    let have = try core.uploads.append(id, offset: offset, data: data)
                    return json(200, ["id": id, "received": have], g)
                } catch Uploads.Failure.badOffset(let have) {
                    return json(409, ["error": "the upload holds \(have) bytes: continue from there", "received": have], g)
                } catch Uploads.Failure.tooLong {
                    return error(400, "more bytes than the size given", g)
                }
            default:
                return nil
            }
        }
        if method == "GET", path.hasPrefix("/api/files/") {
            if let r = read() { return r }
            let id = String(path.dropFirst("/api/files/".count))
            guard isID(id), let file = core.transfers?.localFile(id) else { return error(404, "that file is not on this device (yet)", g) }
            return try fileResponse(file, inline: request.query["inline"] == "1", g)
        }
        return nil
    }

    /// A local file: as a download, or (`inline`, pictures only) for an `<img>` in the page.
    func fileResponse(_ path: String, inline: Bool, _ g: LocalGuard) throws -> HTTPResponse {
        let name = (path as NSString).lastPathComponent
        var type = "application/octet-stream"
        var disposition = "attachment"
        if inline {
            guard let handle = FileHandle(forReadingAtPath: path) else { return error(404, "cannot read the file", g) }
            let head = (try? handle.read(upToCount: Burn.maxImageBytes * 4)) ?? Data()
            try? handle.close()
            guard let info = ImageInfo([UInt8](head)) else { return error(415, "not a picture", g) }
            type = info.mime
            disposition = "inline"
        }
        let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "file"
        var r = HTTPResponse(statusCode: .ok, headers: [.contentType: type], body: try HTTPBodySequence(file: URL(fileURLWithPath: path)))
        r.headers[HTTPHeader("Content-Disposition")] = "\(disposition); filename*=UTF-8''\(encoded)"
        secured(&r, g)
        return r
    }
}
