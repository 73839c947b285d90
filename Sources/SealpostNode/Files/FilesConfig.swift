/// The operator's file-store policy (`files:` in node.yaml).
public struct FilesConfig: Codable, Sendable, Equatable {
    /// Bytes of files one user may have stored on this node at once (uploads they made), in MiB.
    public var quotaMB: Int
    /// A complete file is kept at least this long, in hours, then collected once every
    /// recipient this node knows of has fetched it.
    public var retentionHours: Int
    /// Any file (fetched or not, complete or not) is collected after this many days.
    public var expireDays: Int
    /// Uploads and pulls are refused when they would leave less free disk than this, in MiB.
    public var minFreeMB: Int
    /// Most MB/s this node sends of file chunks (downloads and pulls together); 0 for no limit.
    /// Leaves the node's CPU and links room for chat while a big file moves.
    public var sendMBps: Int

    enum CodingKeys: String, CodingKey {
        case quotaMB = "quota_mb"
        case retentionHours = "retention_hours"
        case expireDays = "expire_days"
        case minFreeMB = "min_free_mb"
        case sendMBps = "send_mb_s"
    }

    public init(quotaMB: Int = 10_240, retentionHours: Int = 72, expireDays: Int = 30, minFreeMB: Int = 256, sendMBps: Int = 200) {
        self.sendMBps = sendMBps
        self.quotaMB = quotaMB
        self.retentionHours = retentionHours
        self.expireDays = expireDays
        self.minFreeMB = minFreeMB
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = FilesConfig()
        quotaMB = try c.decodeIfPresent(Int.self, forKey: .quotaMB) ?? d.quotaMB
        retentionHours = try c.decodeIfPresent(Int.self, forKey: .retentionHours) ?? d.retentionHours
        expireDays = try c.decodeIfPresent(Int.self, forKey: .expireDays) ?? d.expireDays
        minFreeMB = try c.decodeIfPresent(Int.self, forKey: .minFreeMB) ?? d.minFreeMB
        sendMBps = try c.decodeIfPresent(Int.self, forKey: .sendMBps) ?? d.sendMBps
    }

    public func validate() throws {
        guard quotaMB >= 0 else { throw NodeError.config("files.quota_mb must be 0 or more") }
        guard (0...24 * 3650).contains(retentionHours) else { throw NodeError.config("files.retention_hours must be 0...87600") }
        guard (1...3650).contains(expireDays) else { throw NodeError.config("files.expire_days must be 1...3650") }
        guard retentionHours <= expireDays * 24 else { throw NodeError.config("files.retention_hours must not exceed files.expire_days") }
        guard minFreeMB >= 0 else { throw NodeError.config("files.min_free_mb must be 0 or more") }
        guard (0...100_000).contains(sendMBps) else { throw NodeError.config("files.send_mb_s must be 0 (no limit) ... 100000") }
    }

    var quotaBytes: UInt64 { UInt64(quotaMB) * 1_048_576 }
    var minFreeBytes: UInt64 { UInt64(minFreeMB) * 1_048_576 }
}
