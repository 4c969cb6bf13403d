#define _GNU_SOURCE
#include "CThreading.h"

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>

int evo_bind_current_thread(int index) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
    int count = CPU_COUNT(&allowed);
    if (count < 2 || index < 0) return -1;
    int wanted = count - 1 - index % count, seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        if (seen++ == wanted) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            return pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0 ? 0 : -1;
        }
    }
    return -1;
}

int evo_allowed_cpu_count(void) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 0;
    return CPU_COUNT(&allowed);
}
#else
int evo_bind_current_thread(int index) { (void)index; return -1; }
int evo_allowed_cpu_count(void) { return 0; }
#endif
