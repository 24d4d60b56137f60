//! Thread scheduling the standard library has no call for. Its only `unsafe` is one
//! `setpriority(2)` and one `sched_setscheduler(2)` call on the calling thread.

/// Raises the calling thread's niceness by `incr` (0-19; the kernel caps the result at
/// 19), as RocksDB lowers its background threads' CPU priority. On Linux the nice value is
/// a per-thread attribute (setpriority with `PRIO_PROCESS` and the thread id, which
/// `gettid` gives). Lowering a priority needs no privilege; a failure is returned and
/// changes nothing.
pub(crate) fn lower_current_thread_priority(incr: u8) -> std::io::Result<()> {
    if incr == 0 {
        return Ok(());
    }
    let incr = i32::from(incr.min(19));
    // SAFETY: gettid and getpriority/setpriority take plain integers and touch no memory
    // of ours; errno is read through the standard library.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        *libc::__errno_location() = 0;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        if now == -1 && *libc::__errno_location() != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::setpriority(libc::PRIO_PROCESS, tid, (now + incr).min(19)) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Moves the calling thread to the `SCHED_IDLE` policy (sched(7)): it runs only when no
/// other thread of a normal policy wants the CPU, and a waking normal thread preempts it
/// at once (with a nice value it may first finish its time slice, hundreds of µs). Needs
/// no privilege. A failure is returned and changes nothing.
pub(crate) fn set_current_thread_idle() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param for the duration of the call; pid 0 is the
    // calling thread.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn lowers_only_the_calling_thread() {
        let before = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let nice_of = |stat: &str| -> i64 {
            // Field 19 (1-based) after the ")" that ends the command name.
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            rest.split(' ').nth(16).unwrap().parse().unwrap()
        };
        let main_nice = nice_of(&before);
        let t = std::thread::spawn(move || {
            super::lower_current_thread_priority(5).unwrap();
            nice_of(&std::fs::read_to_string("/proc/thread-self/stat").unwrap())
        });
        let child = t.join().unwrap();
        assert_eq!(child, (main_nice + 5).min(19));
        let after = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        assert_eq!(nice_of(&after), main_nice, "the calling thread only");
    }

    #[test]
    fn idle_policy_for_the_calling_thread_only() {
        // Field 41 (1-based): the scheduling policy; SCHED_IDLE is 5.
        let policy_of = |stat: &str| -> i64 {
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            rest.split(' ').nth(38).unwrap().parse().unwrap()
        };
        let main_policy = policy_of(&std::fs::read_to_string("/proc/thread-self/stat").unwrap());
        let t = std::thread::spawn(move || {
            super::set_current_thread_idle().unwrap();
            policy_of(&std::fs::read_to_string("/proc/thread-self/stat").unwrap())
        });
        assert_eq!(t.join().unwrap(), i64::from(libc::SCHED_IDLE));
        let after = policy_of(&std::fs::read_to_string("/proc/thread-self/stat").unwrap());
        assert_eq!(after, main_policy, "the calling thread only");
    }
}
