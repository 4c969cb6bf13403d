import CThreading
import Foundation
import Synchronization

/// A persistent pool of worker threads for the operators' data-parallel loops and GEMMs.
///
/// Why not `DispatchQueue.concurrentPerform` (which `Parallel.forRanges` uses): on Linux it was seen running
/// millisecond-scale work on the calling thread only (docs/BENCHMARKS.md), presumably because libdispatch's worker threads were not awake in time. Here `activeProcessorCount − 1`
/// threads are created once; the calling thread works too.
///
/// A small UNet's forward pass is hundreds of short operators, so waking a sleeping thread for every one (a futex
/// round trip, slow under virtualisation) would cost more than it saves. Idle workers therefore
/// poll for the next job for `spinNanoseconds` (with the CPU's pause hint) before sleeping on a condition
/// variable, as OpenMP runtimes do; a job posted while they poll starts within a microsecond. OpenBLAS's own
/// threads are switched off (`GEMM`), so no second set of spinning threads competes for the cores.
///
/// A job is `chunks` calls of `body(chunk)`. Chunks are claimed with a compare-and-swap on a ticket that carries
/// the job's generation, so a worker that wakes late can never run a chunk of a finished job. Calls made while
/// the pool is busy — nested calls from inside a chunk, or calls from another thread — run their chunks inline
/// on the calling thread, so the pool can never deadlock and results never depend on scheduling (callers write
/// disjoint outputs per chunk).
final class WorkerPool: @unchecked Sendable {
    /// One thread per CPU the process may use (the affinity mask, which `activeProcessorCount` ignores: under
    /// `taskset -c 0` a second, spinning thread would only take turns with the caller).
    static let shared: WorkerPool = {
        let allowed = Int(evo_allowed_cpu_count())
        return WorkerPool(threads: allowed > 0 ? Swift.min(Parallel.cores, allowed) : Parallel.cores)
    }()

    /// How long an idle worker polls for the next job before it sleeps.
    static let spinNanoseconds: UInt64 = 200_000

    /// Scalar operations below which `NN.parallel` runs a loop inline: a job reaches a polling worker in well
    /// under a microsecond, so loops of a few microseconds are worth splitting.
    static let minimumWork = 8192

    /// Threads that run chunks of one job, including the caller.
    let threads: Int

    /// Whether the pool set glibc's malloc to keep freed memory for reuse (`evo_keep_freed_memory`; false when not
    /// glibc).
    let keepsFreedMemory: Bool

    private static let indexBits = 24
    private static let indexMask = (1 << indexBits) - 1

    /// The current job's generation, readable without the mutex (idle workers poll it).
    private let published = Atomic<Int>(0)
    /// generation << indexBits | next unclaimed chunk.
    private let ticket = Atomic<Int>(0)
    /// Chunks of the current job not yet finished.
    private let unfinished = Atomic<Int>(0)

    // Guarded by `mutex`.
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var generation = 0
    private var chunks = 0
    private var body: ((Int) -> Void)?
    private var sleepers = 0
    private var ownerCPU: Int32 = -1               // the CPU of the thread that last woke sleeping workers

    private var owner = pthread_mutex_t()          // held by the thread whose job is running

    private init(threads: Int) {
        // Process-wide, once, before the operators allocate: see `evo_keep_freed_memory` (page faults on fresh
        // output buffers were ≈ a fifth of a batch-2 small UNet's forward).
        keepsFreedMemory = evo_keep_freed_memory() == 1
        self.threads = Swift.max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_mutex_init(&owner, nil)
        pthread_cond_init(&wake, nil)
        let creatorCPU = evo_current_cpu()
        for i in 1..<self.threads {
            let t = Thread { [unowned self] in self.workerLoop(index: i, avoiding: creatorCPU) }
            t.name = "NN.worker.\(i)"
            t.start()
        }
    }

    /// Runs `body(0) … body(chunks − 1)`, concurrently on the pool when it is free; returns when all are done.
    func run(chunks n: Int, _ body: @escaping (Int) -> Void) {
        if n <= 0 { return }
        precondition(n <= WorkerPool.indexMask, "WorkerPool.run: \(n) chunks")
        if n == 1 || threads == 1 || pthread_mutex_trylock(&owner) != 0 {
            for c in 0..<n { body(c) }
            return
        }
        defer { pthread_mutex_unlock(&owner) }
        pthread_mutex_lock(&mutex)
        generation += 1
        let g = generation
        self.body = body
        chunks = n
        unfinished.store(n, ordering: .relaxed)
        ticket.store(g << WorkerPool.indexBits, ordering: .relaxed)
        published.store(g, ordering: .releasing)
        if sleepers > 0 {
            ownerCPU = evo_current_cpu()
            pthread_cond_broadcast(&wake)
        }
        pthread_mutex_unlock(&mutex)

        claimChunks(generation: g, count: n, body)
        // The other chunks are running on workers; they are about as long as ours.
        var polls = 0
        while unfinished.load(ordering: .acquiring) > 0 {
            polls += 1
            if polls < 1 << 16 { evo_cpu_relax() } else { sched_yield() }
        }
        pthread_mutex_lock(&mutex)
        self.body = nil
        pthread_mutex_unlock(&mutex)
    }

    /// Claims and runs chunks of job `g` until none is left (or a newer job replaced it).
    private func claimChunks(generation g: Int, count n: Int, _ job: (Int) -> Void) {
        var current = ticket.load(ordering: .relaxed)
        while current >> WorkerPool.indexBits == g && current & WorkerPool.indexMask < n {
            let (exchanged, original) = ticket.compareExchange(expected: current, desired: current + 1,
                                                               ordering: .acquiringAndReleasing)
            if exchanged {
                job(current & WorkerPool.indexMask)
                unfinished.subtract(1, ordering: .releasing)
                current = ticket.load(ordering: .relaxed)
            } else {
                current = original
            }
        }
    }

    /// Workers are bound to a CPU other than the job owner's: unbound, the scheduler tends to wake a worker on the
    /// owner's CPU, where the two take turns on one core while the other idles. A worker that wakes from sleep
    /// on the owner's CPU (the owner moved there meanwhile) rebinds to another one; the owner itself is never
    /// bound, so the scheduler can still move it off a worker's CPU.
    private func workerLoop(index: Int, avoiding creatorCPU: Int32) {
        var boundCPU = evo_bind_current_thread_avoiding(Int32(index - 1), creatorCPU)
        var seen = 0
        while true {
            // Poll for a new job for a while, then sleep.
            var start = timespec()
            clock_gettime(CLOCK_MONOTONIC, &start)
            var polls = 0
            while published.load(ordering: .acquiring) == seen {
                evo_cpu_relax()
                polls += 1
                if polls & 255 == 0 {
                    var now = timespec()
                    clock_gettime(CLOCK_MONOTONIC, &now)
                    let elapsed = (now.tv_sec - start.tv_sec) * 1_000_000_000 + (now.tv_nsec - start.tv_nsec)
                    if elapsed >= Int(WorkerPool.spinNanoseconds) { break }
                }
            }
            pthread_mutex_lock(&mutex)
            var slept = false
            if generation == seen {
                sleepers += 1
                while generation == seen { pthread_cond_wait(&wake, &mutex) }
                sleepers -= 1
                slept = true
            }
            seen = generation
            let job = body, n = chunks, owner = ownerCPU
            pthread_mutex_unlock(&mutex)
            if slept && owner >= 0 && owner == boundCPU {
                let cpu = evo_bind_current_thread_avoiding(Int32(index - 1), owner)
                if cpu >= 0 { boundCPU = cpu }
            }
            if let job { claimChunks(generation: seen, count: n, job) }
        }
    }
}

extension NN {
    /// Threads the operators use (`WorkerPool`: the caller plus one worker per further CPU).
    public static var threads: Int { WorkerPool.shared.threads }

    /// The vector instruction set the package was compiled for (Package.swift picks it from the build
    /// machine's CPU, or from EVOSEARCH_SIMD): "AVX-512", "AVX2" or "native" (not x86-64).
    public static var instructionSet: String {
        #if EVOSEARCH_AVX512
        return "AVX-512"
        #elseif arch(x86_64)
        return "AVX2"
        #else
        return "native"
        #endif
    }

    /// Splits `0..<count` into contiguous ranges — up to 4 per thread, each ≥ `WorkerPool.minimumWork` scalar
    /// operations, claimed dynamically — and runs `body` on them concurrently (through `WorkerPool`) when
    /// `count · costPerItem` is worth a hand-over; otherwise runs `body(0..<count)` inline.
    static func parallel(_ count: Int, cost costPerItem: Int, _ body: @escaping (Range<Int>) -> Void) {
        let threads = WorkerPool.shared.threads
        let total = count * Swift.max(costPerItem, 1)
        // Up to 4 chunks per thread (each ≥ minimumWork), claimed dynamically: a thread that starts late or runs
        // slower takes fewer, so neither waits long for the other.
        let chunks = count < 2 || total < WorkerPool.minimumWork || threads < 2
            ? 1 : Swift.min(count, Swift.max(threads, Swift.min(threads * 4, total / WorkerPool.minimumWork)))
        if chunks <= 1 { if count > 0 { body(0..<count) }; return }
        WorkerPool.shared.run(chunks: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}
