//! A deadline for a child process that a test reads from or waits for: a blocking
//! `read_line` on its stdout or a `wait()` has no timeout of its own, so a child that
//! hangs would hang the test run. The watchdog kills the child (SIGKILL) once `limit`
//! has passed, which ends those calls (end of file, an exit status), and the test then
//! fails on what it got; it also kills the child when dropped during a panic, so no
//! orphan holds the test's output open. Drop it once the child has been waited for.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub struct Watchdog {
    pid: u32,
    disarmed: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status();
}

impl Watchdog {
    pub fn new(child: &std::process::Child, limit: Duration) -> Watchdog {
        let pid = child.id();
        let disarmed = Arc::new((Mutex::new(false), Condvar::new()));
        let d = disarmed.clone();
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + limit;
            let (lock, cv) = &*d;
            let mut done = lock.lock().unwrap();
            while !*done {
                let now = Instant::now();
                if now >= end {
                    eprintln!("watchdog: child {pid} still running after {limit:?}: killed");
                    kill(pid);
                    return;
                }
                done = cv.wait_timeout(done, end - now).unwrap().0;
            }
        });
        Watchdog {
            pid,
            disarmed,
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if std::thread::panicking() {
            kill(self.pid);
        }
        *self.disarmed.0.lock().unwrap() = true;
        self.disarmed.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
