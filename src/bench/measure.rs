//! Process measurements for benchmarks: CPU time (from the kernel's per-thread and per-process
//! CPU clocks, nanosecond resolution; unlike wall time it does not count waiting) and peak
//! resident memory (`VmHWM` from `/proc/self/status`).
//!
//! Why the CPU clocks and not `getrusage`: on kernels that account CPU time by tick, `getrusage`
//! moves in steps of 4 ms, too coarse for a 100 ms budget split into parts.

use std::time::Duration;

/// CPU time (user + system) the calling thread has used so far.
pub fn thread_cpu() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time (user + system) the whole process has used so far.
pub fn process_cpu() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes into the timespec we own; both clock ids exist on Linux.
    let rc = unsafe { libc::clock_gettime(clock, &mut now) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// The process's peak resident set size in bytes (`VmHWM`), where `/proc` has it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Runs `f` and returns its result with the CPU time the calling thread spent in it.
pub fn cpu_of<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let before = thread_cpu();
    let value = f();
    (value, thread_cpu().saturating_sub(before))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_counts_work_and_not_sleep() {
        let (_, slept) = cpu_of(|| std::thread::sleep(Duration::from_millis(50)));
        assert!(slept < Duration::from_millis(20), "{slept:?}");
        // A fixed amount of work, not a wall-clock loop: CPU time must not depend on how busy
        // the machine is.
        let (sum, worked) = cpu_of(|| {
            let mut x: u64 = 0;
            for i in 0..20_000_000u64 {
                x = x.wrapping_add(std::hint::black_box(i));
            }
            x
        });
        assert!(sum > 0);
        assert!(worked > slept, "work {worked:?} vs sleep {slept:?}");
        assert!(process_cpu() >= worked);
    }

    #[test]
    fn peak_rss_is_read_from_proc() {
        let peak = peak_rss_bytes().unwrap_or(0);
        assert!(peak > 1024 * 1024, "{peak}");
    }
}
