import Foundation
import SealpostCore

/// The groups this person belongs to and their members, as the groups' home
/// nodes last announced them (`PROFILE.groups`). Sending to a group wraps the
/// message key for these members.
public final class GroupBook {
    public struct Entry: Codable, Equatable {
        public var members: [String]
        public var admins: [String]
    }

    public let path: String
    public private(set) var groups: [String: Entry] = [:]
    private var changed = false

    public init(profilePath: String) {
        path = profilePath + ".groups"
        if let loaded = PrivateFile.readJSON([String: Entry].self, from: path) { groups = loaded }
    }

    /// Folds a `group_event` in: the member list it carries replaces ours; a group we
    /// are no longer in is forgotten.
    public func note(_ m: ReceivedMessage, me: String) {
        guard let group = m.group, let event = m.groupEvent, event.op != Group.Event.refused else { return }
        let members = event.members.map(\.address)
        if members.contains(me) {
            let entry = Entry(members: members, admins: event.members.filter(\.admin).map(\.address))
            if groups[group] != entry { groups[group] = entry; changed = true }
        } else if groups[group] != nil {
            groups[group] = nil
            changed = true
        }
    }

    public func save() throws {
        guard changed else { return }
        changed = false
        try PrivateFile.writeJSON(groups, to: path)
    }
}

/// The person's local books (contacts, reminders, groups), updated together from
/// what arrives, as `inbox` and `chat` both do.
public final class ProfileBooks {
    public let contacts: ContactBook
    public let reminders: ReminderBook
    public let groups: GroupBook
    public let burns: BurnBook
    public let files: FileBook
    /// Forwardable messages, when the books were opened with the profile (its key seals them).
    public let forwards: ForwardBook?
    private let me: String

    public init(profilePath: String, me: String, profile: Profile? = nil) {
        forwards = profile.map { ForwardBook(profilePath: profilePath, profile: $0) }
        contacts = ContactBook(profilePath: profilePath)
        reminders = ReminderBook(profilePath: profilePath)
        groups = GroupBook(profilePath: profilePath)
        burns = BurnBook(profilePath: profilePath)
        files = FileBook(profilePath: profilePath)
        self.me = me
    }

    /// Folds a shown message into the books.
    public func note(_ m: ReceivedMessage) {
        if let entry = m.card?.entry, m.card?.verified == true { contacts.add(entry) }
        reminders.note(m)
        groups.note(m, me: me)
        burns.note(m)
        files.note(m)
        forwards?.note(m)
    }

    public func save() throws {
        try contacts.save()
        try reminders.save()
        try groups.save()
        try burns.save()
        try files.save()
        try forwards?.save()
    }
}
