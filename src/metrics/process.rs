//! The process metrics Zeek exposes (`process_*`), read from Linux's /proc.

/// Resource use of this process. Zero where /proc cannot say (other systems).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    pub rss_bytes: u64,
    pub vms_bytes: u64,
    pub cpu_user_seconds: f64,
    pub cpu_system_seconds: f64,
    pub open_fds: u64,
    /// Seconds since the Unix epoch when the process started.
    pub start_time_seconds: f64,
}

impl ProcessStats {
    pub fn read() -> ProcessStats {
        let mut s = ProcessStats::default();
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return s;
        };
        // The command name (field 2) is in parentheses and may hold spaces: split after it.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return s;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[0] is field 3 (state): field n is f[n - 3].
        let get = |n: usize| {
            f.get(n - 3)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // SAFETY-free: sysconf is in libc, but unsafe calls live in ffi only; Linux's
        // USER_HZ is 100 on every architecture it runs on.
        let hz = 100.0;
        let page = 4096u64;
        s.cpu_user_seconds = get(14) as f64 / hz;
        s.cpu_system_seconds = get(15) as f64 / hz;
        s.vms_bytes = get(23);
        s.rss_bytes = get(24) * page;
        let start_ticks = get(22) as f64;
        if let Some(btime) = std::fs::read_to_string("/proc/stat").ok().and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("btime ")
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
        }) {
            s.start_time_seconds = btime as f64 + start_ticks / hz;
        }
        if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
            // The directory handle itself is one of the entries.
            s.open_fds = d.count().saturating_sub(1) as u64;
        }
        if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
            let v: Vec<u64> = statm
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if v.len() >= 2 {
                s.rss_bytes = v[1] * page;
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let s = super::ProcessStats::read();
        if cfg!(target_os = "linux") {
            assert!(s.rss_bytes > 0 && s.vms_bytes >= s.rss_bytes);
            assert!(s.open_fds >= 3);
            assert!(s.start_time_seconds > 1.5e9);
        }
    }
}
