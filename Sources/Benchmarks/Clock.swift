import Foundation

/// The clocks benchmarks read: monotonic wall time and the whole process's CPU time (all threads).
public enum Clock {
    public static func wallSeconds() -> Double { read(CLOCK_MONOTONIC) }
    public static func processCPUSeconds() -> Double { read(CLOCK_PROCESS_CPUTIME_ID) }

    private static func read(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
