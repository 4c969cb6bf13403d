#define _GNU_SOURCE
#include "CThreading.h"
#include <stdlib.h>   // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>

int evo_keep_freed_memory(void) {
    // Larger than any activation of the small models; the SD-sized models' big buffers still get their own mappings.
    int mmapped = mallopt(M_MMAP_THRESHOLD, 32 << 20);
    int trimmed = mallopt(M_TRIM_THRESHOLD, 256 << 20);
    return mmapped == 1 && trimmed == 1;
}
#else
int evo_keep_freed_memory(void) { return 0; }
#endif

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>

int evo_bind_current_thread_avoiding(int index, int avoid) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
    if (avoid >= 0 && avoid < CPU_SETSIZE && CPU_ISSET(avoid, &allowed) && CPU_COUNT(&allowed) > 1) CPU_CLR(avoid, &allowed);
    int count = CPU_COUNT(&allowed);
    if (count < 1 || index < 0) return -1;
    int wanted = count - 1 - index % count, seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        if (seen++ == wanted) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            return pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0 ? cpu : -1;
        }
    }
    return -1;
}

int evo_current_cpu(void) { return sched_getcpu(); }

int evo_allowed_cpu_count(void) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 0;
    return CPU_COUNT(&allowed);
}
#else
int evo_allowed_cpu_count(void) { return 0; }
int evo_bind_current_thread_avoiding(int index, int avoid) { (void)index; (void)avoid; return -1; }
int evo_current_cpu(void) { return -1; }
#endif
