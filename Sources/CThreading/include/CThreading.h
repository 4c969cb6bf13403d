// Small thread helpers for TensorCore's WorkerPool that Swift's Glibc module does not expose (GNU extensions).
#ifndef EVOSEARCH_CTHREADING_H
#define EVOSEARCH_CTHREADING_H

/// A spin-wait hint for the CPU (x86 `pause`; nothing elsewhere), for idle polling loops.
static inline void evo_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/// Binds the calling thread to the CPU `index` places from the end of the process's allowed set (0 = the last
/// allowed CPU), wrapping around. Returns 0 on success, -1 when the set has fewer than two CPUs or the calls fail
/// (the thread then stays unbound). Linux only; elsewhere returns -1.
int evo_bind_current_thread(int index);

/// CPUs the process may run on (its affinity mask, e.g. under `taskset`), or 0 when unknown.
int evo_allowed_cpu_count(void);

#endif
