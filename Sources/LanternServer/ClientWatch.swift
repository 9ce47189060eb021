import Foundation
import Hummingbird
import NIOCore

/// The request context of `lantern serve`: Hummingbird's basic one plus the connection, so that a
/// handler can find the connection's `ClientWatch`.
struct ServerRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The watch of this request's connection (nil only if the pipeline lacks one, as in a test app).
    /// Looked up in `ClientWatch.registry` under a lock rather than through the pipeline's future, whose
    /// continuation, resumed on the event loop, ThreadSanitizer cannot see synchronised.
    var clientWatch: ClientWatch? {
        get async { ClientWatch.registry.watch(of: channel) }
    }
}

/// Notices a client going away while its response is still being computed, so that a non-streamed
/// request stops its sequence (a streamed one notices at its next failed write).
///
/// Hummingbird enables remote half-closure, so a client that closes its socket shows up first as
/// `ChannelEvent.inputClosed`, not as a closed channel: both count as gone. An HTTP/1.1 client that only
/// half-closes and still waits for its answer is treated as gone too (llama-server's check is the same:
/// a socket that reads end-of-file is dead). The pipeline keeps reading while a handler runs (Hummingbird
/// adds no pipelining assistance), so the end-of-file arrives as soon as the client closes.
///
/// One instance per connection (the factory closure runs per channel); the event-loop callbacks and the
/// handler's `onGone` meet under a lock.
final class ClientWatch: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny

    private let lock = NSLock()
    private var gone = false
    private var nextID = 0
    private var actions: [Int: @Sendable () -> Void] = [:]
    private var channel: (any Channel)?

    func handlerAdded(context: ChannelHandlerContext) {
        lock.withLock { channel = context.channel }
        Self.registry.add(self, for: context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        lock.withLock { channel = nil }
        Self.registry.remove(context.channel)
    }

    /// Each open connection's watch, by channel.
    static let registry = Registry()

    final class Registry: @unchecked Sendable {
        private let lock = NSLock()
        private var watches: [ObjectIdentifier: ClientWatch] = [:]
        func add(_ watch: ClientWatch, for channel: any Channel) { lock.withLock { watches[ObjectIdentifier(channel)] = watch } }
        func remove(_ channel: any Channel) { lock.withLock { _ = watches.removeValue(forKey: ObjectIdentifier(channel)) } }
        func watch(of channel: any Channel) -> ClientWatch? { lock.withLock { watches[ObjectIdentifier(channel)] } }
    }

    /// Runs `body` (one write of a streamed answer); when it has not finished after `seconds`, the
    /// client is not reading: `onExpiry` runs (it cancels the sequence) and the connection is closed,
    /// which fails the pending write. So a client that stops reading holds its sequence and connection
    /// for at most `seconds` (llama-server's `--timeout` covers writes the same way).
    func withWriteDeadline<T>(seconds: Int, onExpiry: @escaping @Sendable () -> Void,
                              _ body: () async throws -> T) async throws -> T {
        guard let channel = lock.withLock({ channel }) else { return try await body() }
        let timer = channel.eventLoop.scheduleTask(in: .seconds(Int64(seconds))) {
            onExpiry()
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        return try await body()
    }

    /// Runs `action` once when the client goes away, at once if it already has. Returns a token for
    /// `remove` (nil when it already ran).
    func onGone(_ action: @escaping @Sendable () -> Void) -> Int? {
        lock.lock()
        if gone {
            lock.unlock()
            action()
            return nil
        }
        let id = nextID
        nextID += 1
        actions[id] = action
        lock.unlock()
        return id
    }

    func remove(_ id: Int?) {
        guard let id else { return }
        lock.withLock { _ = actions.removeValue(forKey: id) }
    }

    private func markGone() {
        lock.lock()
        gone = true
        let pending = actions.values
        actions.removeAll()
        lock.unlock()
        for action in pending { action() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event as? ChannelEvent == .some(.inputClosed) { markGone() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        markGone()
        context.fireChannelInactive()
    }
}

/// A flag set from another thread (a `ClientWatch` callback) and read by the handler.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
