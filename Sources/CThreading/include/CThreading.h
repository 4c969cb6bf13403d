// Small thread helpers for TensorCore's WorkerPool that Swift's Glibc module does not expose (GNU extensions).
#ifndef EVOSEARCH_CTHREADING_H
#define EVOSEARCH_CTHREADING_H

/// A spin-wait hint for the CPU (x86 `pause`; nothing elsewhere), for idle polling loops.
static inline void evo_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/// Binds the calling thread to the CPU `index` places from the end of the process's allowed CPUs other than
/// `avoid` (ignored when it is not in the set or the only one, e.g. -1), wrapping around. Returns the CPU bound
/// to, or -1 when the calls fail (the thread then keeps its binding). Linux only; elsewhere returns -1.
int evo_bind_current_thread_avoiding(int index, int avoid);

/// The CPU the calling thread is running on, or -1 when unknown.
int evo_current_cpu(void);

/// Makes glibc's malloc keep freed memory for reuse instead of handing it back to the kernel after each operator:
/// blocks below 32 MB come from the heap (not a fresh mapping each time), and the heap's free top is returned only
/// beyond 256 MB. Without it, glibc's adaptive thresholds trim the heap after operators, and the next operators'
/// output tensors are page-faulted and zero-filled afresh (docs/BENCHMARKS.md has the cost). Returns 1 when both
/// settings took, 0 otherwise (or not glibc).
int evo_keep_freed_memory(void);

/// CPUs the process may run on (its affinity mask, e.g. under `taskset`), or 0 when unknown.
int evo_allowed_cpu_count(void);

#endif
