import Foundation

/// Turns the first Ctrl-C (SIGINT) into a flag the search polls, so it stops at the next model call and the
/// command still writes what was found; a second Ctrl-C exits at once with status 130.
final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var source: DispatchSourceSignal?

    init() {
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        s.setEventHandler { [weak self] in self?.raise() }
        s.resume()
        source = s
    }

    private func raise() {
        lock.lock(); count += 1; let n = count; lock.unlock()
        if n == 1 {
            FileHandle.standardError.write(Data("\ninterrupted: finishing with the best found so far (Ctrl-C again to quit now)\n".utf8))
        } else {
            exit(130)
        }
    }

    var isRaised: Bool { lock.lock(); defer { lock.unlock() }; return count > 0 }
}
