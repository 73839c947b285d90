import Foundation
import Synchronization

/// Live events for the open browser tabs: each WebSocket subscribes a stream, the client
/// thread publishes JSON lines to all of them. `AsyncStream.Continuation.yield` may be
/// called from any thread; the table of subscribers is behind a `Mutex`.
final class EventHub: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<String>.Continuation]>([:])

    /// A new subscription; it ends when `unsubscribe` is called or the hub closes.
    func subscribe() -> (UUID, AsyncStream<String>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        subscribers.withLock { $0[id] = continuation }
        return (id, stream)
    }

    func unsubscribe(_ id: UUID) {
        subscribers.withLock { $0.removeValue(forKey: id) }?.finish()
    }

    var count: Int { subscribers.withLock { $0.count } }

    /// Sends one event (a JSON object) to every subscriber.
    func publish(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        let text = String(decoding: data, as: UTF8.self)
        for c in subscribers.withLock({ Array($0.values) }) { c.yield(text) }
    }

    func close() {
        for c in subscribers.withLock({ s -> [AsyncStream<String>.Continuation] in defer { s.removeAll() }; return Array(s.values) }) {
            c.finish()
        }
    }
}
