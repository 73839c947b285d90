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

    private let book: Book<[String: Entry]>
    public var path: String { book.path ?? "" }
    public var groups: [String: Entry] { book.value }

    public init(profilePath: String) {
        book = Book(path: profilePath + ".groups", empty: [:])
    }

    /// Folds a `group_event` in: the member list it carries replaces ours; a group we
    /// are no longer in is forgotten.
    public func note(_ m: ReceivedMessage, me: String) {
        guard let group = m.group, let event = m.groupEvent, event.op != Group.Event.refused else { return }
        let members = event.members.map(\.address)
        if members.contains(me) {
            let entry = Entry(members: members, admins: event.members.filter(\.admin).map(\.address))
            if groups[group] != entry { book.update { $0[group] = entry } }
        } else if groups[group] != nil {
            book.update { $0[group] = nil }
        }
    }

    public func save() throws { try book.save() }
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
    public let receipts: ReceiptBook
    private let me: String

    public init(profilePath: String, me: String, profile: Profile? = nil) {
        forwards = profile.map { ForwardBook(profilePath: profilePath, profile: $0) }
        contacts = ContactBook(profilePath: profilePath)
        reminders = ReminderBook(profilePath: profilePath)
        groups = GroupBook(profilePath: profilePath)
        burns = BurnBook(profilePath: profilePath)
        files = FileBook(profilePath: profilePath)
        receipts = ReceiptBook(profilePath: profilePath)
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
        receipts.note(m)
    }

    public func save() throws {
        try contacts.save()
        try reminders.save()
        try groups.save()
        try burns.save()
        try files.save()
        try forwards?.save()
        try receipts.save()
    }
}
