/// A stop request that long computations poll between their stages (the blocks of a UNet or a transformer), so
/// that Ctrl-C is honoured within one block's time instead of one whole forward's. `never` for callers that do
/// not stop. The poll must be cheap and safe to call from any thread.
public struct CancellationCheck: Sendable {
    let poll: @Sendable () -> Bool

    public init(_ poll: @escaping @Sendable () -> Bool) { self.poll = poll }

    /// A check that never stops.
    public static let never = CancellationCheck { false }

    public var isCancelled: Bool { poll() }

    /// Throws `Cancelled` when a stop was requested.
    public func check() throws(Cancelled) {
        if poll() { throw Cancelled() }
    }

    /// The computation stopped because a stop was requested; nothing it was computing is valid.
    public struct Cancelled: Error, Sendable, Equatable, CustomStringConvertible {
        public init() {}
        public var description: String { "cancelled" }
    }
}
