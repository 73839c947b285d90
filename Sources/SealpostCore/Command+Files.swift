/// The file commands of both protocols (protocol/SPEC.md 6.23–6.27 and 11.5.10–11.5.13).
extension Command {
    /// Bytes of bulk payload, so encoding reserves the frame at once.
    var bulkBytes: Int {
        if case .fileChunk(_, _, let data) = self { return data.count }
        return 0
    }

    static func decodeFile(_ id: CommandID, _ r: inout WireReader) throws -> Command {
        let fileId = FileID(bytes: try r.octets(16, "file_id"))!
        switch id {
        case .fileBegin:
            let size = try r.u64("size")
            return .fileBegin(fileId: fileId, size: size, chunks: try r.u32("chunks"))
        case .fileStatus:
            let have = try r.u32("have")
            return .fileStatus(fileId: fileId, have: have, chunks: try r.u32("chunks"))
        case .fileChunk:
            let index = try r.u32("index")
            return .fileChunk(fileId: fileId, index: index, data: try r.longstr("data", max: FileChunks.cipherChunkBytes))
        case .fileGet:
            let from = try r.u32("from")
            return .fileGet(fileId: fileId, from: from, count: try r.u32("count"))
        default:
            return .fileDone(fileId: fileId)
        }
    }
}

extension PeerCommand {
    var bulkBytes: Int {
        if case .fileData(_, _, _, let data) = self { return data.count }
        return 0
    }

    static func decodeFile(_ id: PeerCommandID, _ r: inout WireReader) throws -> PeerCommand {
        let fileId = FileID(bytes: try r.octets(16, "file_id"))!
        switch id {
        case .filePull:
            let origin = try r.string("origin")
            guard Name.isValid(origin) else { throw WireError.invalid(field: "origin", reason: "not a node name") }
            let size = try r.u64("size")
            let chunks = try r.u32("chunks")
            guard FileChunks.isConsistent(cipherSize: size, chunks: chunks) else {
                throw WireError.invalid(field: "size", reason: "not a file of at most 2 GiB in 128 KiB chunks")
            }
            let from = try r.u32("from")
            return .filePull(fileId: fileId, origin: origin, size: size, chunks: chunks, from: from, count: try r.u32("count"))
        case .fileData:
            let index = try r.u32("index")
            let hash = try r.octets(32, "hash")
            return .fileData(fileId: fileId, index: index, hash: hash, data: try r.longstr("data", max: FileChunks.cipherChunkBytes))
        case .fileHave:
            let have = try r.u32("have")
            let known = try r.u8("known")
            guard known <= 1 else { throw WireError.invalid(field: "known", reason: "must be 0 or 1") }
            return .fileHave(fileId: fileId, have: have, known: known == 1)
        default:
            return .filePulled(fileId: fileId)
        }
    }
}
