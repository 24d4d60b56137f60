//! Thread scheduling the standard library has no call for. Its only `unsafe` is one
//! `setpriority(2)` call on the calling thread.

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
}
