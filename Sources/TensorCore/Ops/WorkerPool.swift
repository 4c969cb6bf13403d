import Foundation

/// A persistent pool of worker threads for the operators' data-parallel loops.
///
/// Why not `DispatchQueue.concurrentPerform` (which `Parallel.forRanges` uses): on this Linux setup it ran
/// millisecond-scale work on the calling thread only (user time = wall time, e.g. SiLU on 2.6 M floats),
/// presumably because libdispatch's worker threads were not awake in time. Here `activeProcessorCount − 1`
/// threads are created once and sleep on a condition variable between jobs; the calling thread works too.
///
/// A job is `chunks` calls of `body(chunk)`; chunks are claimed under a mutex (they are few and large).
/// Calls made while the pool is busy — nested calls from inside a chunk, or calls from another thread —
/// run their chunks inline on the calling thread, so the pool can never deadlock and results never depend on
/// scheduling (callers write disjoint outputs per chunk).
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool(threads: ProcessInfo.processInfo.activeProcessorCount)

    /// Threads that run chunks of one job, including the caller.
    let threads: Int

    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var finished = pthread_cond_t()
    private var owner = pthread_mutex_t()          // held by the thread whose job is running
    private var body: ((Int) -> Void)?
    private var generation = 0
    private var chunks = 0
    private var nextChunk = 0
    private var unfinished = 0

    private init(threads: Int) {
        self.threads = Swift.max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_mutex_init(&owner, nil)
        pthread_cond_init(&wake, nil)
        pthread_cond_init(&finished, nil)
        for i in 1..<self.threads {
            let t = Thread { [unowned self] in self.workerLoop() }
            t.name = "NN.worker.\(i)"
            t.start()
        }
    }

    /// Runs `body(0) … body(chunks − 1)`, concurrently on the pool when it is free; returns when all are done.
    func run(chunks n: Int, _ body: @escaping (Int) -> Void) {
        if n <= 0 { return }
        if n == 1 || threads == 1 || pthread_mutex_trylock(&owner) != 0 {
            for c in 0..<n { body(c) }
            return
        }
        defer { pthread_mutex_unlock(&owner) }
        // `body` is escaping only formally: a worker may still hold a reference after the job, but never calls
        // it once all chunks are claimed.
        pthread_mutex_lock(&mutex)
        self.body = body
        chunks = n
        nextChunk = 0
        unfinished = n
        generation &+= 1
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        work()
        pthread_mutex_lock(&mutex)
        while unfinished > 0 { pthread_cond_wait(&finished, &mutex) }
        self.body = nil
        pthread_mutex_unlock(&mutex)
    }

    /// Claims and runs chunks of the current job until none is left.
    private func work() {
        while true {
            pthread_mutex_lock(&mutex)
            guard nextChunk < chunks, let job = body else { pthread_mutex_unlock(&mutex); return }
            let c = nextChunk
            nextChunk += 1
            pthread_mutex_unlock(&mutex)
            job(c)
            pthread_mutex_lock(&mutex)
            unfinished -= 1
            if unfinished == 0 { pthread_cond_signal(&finished) }
            pthread_mutex_unlock(&mutex)
        }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            pthread_mutex_lock(&mutex)
            while generation == seen { pthread_cond_wait(&wake, &mutex) }
            seen = generation
            pthread_mutex_unlock(&mutex)
            work()
        }
    }
}

extension NN {
    /// Splits `0..<count` into at most one contiguous range per core and runs `body` on them concurrently
    /// (through `WorkerPool`) when `count · costPerItem` is worth a thread hop (≥ 32 Ki scalar operations, as
    /// `Parallel.chunkCount` decides); otherwise runs `body(0..<count)` inline.
    static func parallel(_ count: Int, cost costPerItem: Int, _ body: @escaping (Range<Int>) -> Void) {
        let chunks = Parallel.chunkCount(count, costPerItem: costPerItem)
        if chunks <= 1 { if count > 0 { body(0..<count) }; return }
        WorkerPool.shared.run(chunks: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}
