import Foundation
import TensorCore

/// A thread of its own that runs the gRPC client's async work, and the bridge from the synchronous model
/// interfaces (`Denoiser.predict` does not `await`) to it.
///
/// `run` starts the async work as a task whose executor preference is this thread, then blocks the calling thread
/// on a semaphore, waking every few milliseconds to poll the caller's `CancellationCheck`. The async side never
/// needs the calling thread nor Swift's cooperative pool (whose threads a synchronous caller may be occupying), so
/// waiting cannot deadlock; a stop request cancels the task and throws `CancellationCheck.Cancelled` at once.
/// Do not call `run` from the client's own thread (from inside a task it runs).
final class ClientThread: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []   // guarded by `condition`
    private var stopped = false           // guarded by `condition`
    private var liveTasks = 0             // guarded by `condition`

    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Ends the thread once every task it was given has finished (a client's connections end after its graceful
    /// shutdown, so they close cleanly).
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !(stopped && liveTasks == 0) { condition.wait() }
            if jobs.isEmpty { condition.unlock(); return }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// Starts `body` on this thread and does not wait for it.
    func start(_ body: @escaping @Sendable () async -> Void) {
        began()
        Task(executorPreference: self) { await body(); self.ended() }
    }

    private func began() { condition.lock(); liveTasks += 1; condition.unlock() }

    private func ended() { condition.lock(); liveTasks -= 1; condition.signal(); condition.unlock() }

    /// Runs `body` on this thread and blocks until it returns, polling `cancellation` meanwhile.
    func run<T: Sendable>(cancellation: CancellationCheck, _ body: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        began()
        let task = Task(executorPreference: self) {
            do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
            done.signal()
            self.ended()
        }
        while done.wait(timeout: .now() + .milliseconds(5)) == .timedOut {
            if cancellation.isCancelled {
                task.cancel()
                throw CancellationCheck.Cancelled()
            }
        }
        return try box.get()
    }
}

/// One result handed from the client thread to the waiting caller.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?

    func set(_ r: Result<T, any Error>) { lock.lock(); result = r; lock.unlock() }

    func get() throws -> T {
        lock.lock(); defer { lock.unlock() }
        guard let result else { preconditionFailure("ResultBox read before the task finished") }
        return try result.get()
    }
}
