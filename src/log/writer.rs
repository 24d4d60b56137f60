//! One Zeek log file being written: Zeek's ASCII writer's file life cycle
//! (`logging/writers/ascii/Ascii.cc`, `logging/Manager.cc`) without Zeek's threads.
//!
//! - The file `<dir>/<path>.log` is created (truncating, as Zeek's `O_TRUNC`) on the first
//!   record, with the header written straight away (ASCII only: JSON has no header).
//! - Records are buffered and reach the file at least once a second: on any call that
//!   finds a second gone since the last flush (`write`, `tick`), when the buffer passes
//!   256 KiB, on `flush`, on rotation and on close. The host loop calls `tick(now)`.
//! - Rotation (`Some(interval)`): due at the next multiple of the interval after local
//!   midnight (`log_rotate_base_time="0:00"`, `calc_next_rotate`), as Zeek schedules it.
//!   Rotating writes `#close`, closes the file and renames it with Zeek's in-process
//!   default ASCII naming (`Log::rotation_format_func` with the ASCII postprocessor):
//!   `<path>.<open-time as Log::default_rotation_date_format, %Y-%m-%d-%H-%M-%S, local
//!   time>.log`, where the open time is when the writer was created or last rotated. (This
//!   is not zeekctl's archive naming, which its post-processor applies afterwards.) The next
//!   file appears with the next record. If the target name exists (two rotations within a
//!   second), `-1`, `-2`, ... is appended instead of overwriting it as Zeek would.
//! - Closing writes `#close`; with rotation configured it also rotates the file, as Zeek
//!   does when it terminates.
//! - `#open` / `#close` carry the local time `%Y-%m-%d-%H-%M-%S` of the event (Zeek uses
//!   the wall clock there).
//! - The path must stay inside the log directory: an absolute path or one with a `..`
//!   (or `.`) component is refused (`check_writer`), where Zeek opens whatever the path
//!   says. A logger takes paths from its peers' LogCreates and ZeroMQ log-writes, so
//!   without this any peer could write any file the logger may write. A refused writer
//!   is a counted, reported drop on a logger (`LogStats::write_errors`, `last_drop`).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local, TimeZone};

use super::{ascii, json, AsciiOptions, LogField, LogFormat, ZeekType};
use crate::data::Value;
use crate::error::{Error, Result};

const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
const BUFFER_LIMIT: usize = 256 * 1024;
const LOG_EXT: &str = "log";

impl From<(&str, ZeekType)> for LogField {
    fn from((name, ty): (&str, ZeekType)) -> Self {
        LogField::new(name, ty)
    }
}
impl From<(String, ZeekType)> for LogField {
    fn from((name, ty): (String, ZeekType)) -> Self {
        LogField::new(name, ty)
    }
}

/// What a post-processor learns about a rotated file (`Log::RotationInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationInfo {
    /// The writer, `Log::WRITER_ASCII`.
    pub writer: String,
    /// The rotated file (`$fname`).
    pub fname: PathBuf,
    /// The log's path, `conn`.
    pub path: String,
    /// When the file was opened and closed.
    pub open: SystemTime,
    pub close: SystemTime,
    /// Whether the rotation happens because the logger terminates.
    pub terminating: bool,
}

/// What runs on a rotated file: the host's callback, or a command run as Zeek's
/// `Log::run_rotation_postprocessor_cmd` runs `Log::default_rotation_postprocessor_cmd`
/// (`<cmd> <rotated file> <path> <open yy-mm-dd_HH.MM.SS> <close ...> <terminating 0|1>
/// ascii` through `/bin/sh -c`, in the background, file names shell-quoted as
/// `safe_shell_quote` does). ZeekControl's archiver is such a command.
#[derive(Clone)]
pub enum PostProcessor {
    Callback(std::sync::Arc<dyn Fn(&RotationInfo) + Send + Sync>),
    Command(String),
}

impl std::fmt::Debug for PostProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PostProcessor::Callback(_) => f.write_str("PostProcessor::Callback"),
            PostProcessor::Command(c) => write!(f, "PostProcessor::Command({c:?})"),
        }
    }
}

/// Zeek's `safe_shell_quote`: double quotes, with `\`, `"`, `$` and backquote escaped.
pub fn safe_shell_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn pp_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match Local.timestamp_opt(secs, 0).earliest() {
        Some(dt) => dt.format("%y-%m-%d_%H.%M.%S").to_string(),
        None => "70-01-01_00.00.00".into(),
    }
}

impl PostProcessor {
    /// The command line a `Command` runs for `info`.
    pub fn command_line(cmd: &str, info: &RotationInfo) -> String {
        let writer = info.writer.to_lowercase().replace("log::writer_", "");
        format!(
            "{cmd} {} {} {} {} {} {writer}",
            safe_shell_quote(&info.fname.to_string_lossy()),
            safe_shell_quote(&info.path),
            pp_date(info.open),
            pp_date(info.close),
            i32::from(info.terminating)
        )
    }

    fn run(&self, info: &RotationInfo) {
        match self {
            PostProcessor::Callback(cb) => cb(info),
            PostProcessor::Command(cmd) => {
                let line = PostProcessor::command_line(cmd, info);
                if let Ok(mut child) = std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&line)
                    .spawn()
                {
                    // In the background, as Zeek's system(): reap it off this thread.
                    std::thread::spawn(move || {
                        let _ = child.wait();
                    });
                }
            }
        }
    }
}

/// A writer of one Zeek log (`path`, e.g. `cluster`) in a directory.
#[derive(Debug)]
pub struct LogWriter {
    dir: PathBuf,
    path: String,
    fields: Vec<LogField>,
    format: LogFormat,
    opts: AsciiOptions,
    rotation: Option<Duration>,
    file: Option<File>,
    buf: Vec<u8>,
    last_flush: SystemTime,
    /// Zeek's `winfo->open_time`: writer creation or last rotation; names rotated files.
    open_time: Option<SystemTime>,
    next_rotation: Option<SystemTime>,
    closed: bool,
    /// `Log::default_rotation_dir` (relative to `dir`), None: rotated files stay in `dir`.
    rotation_dir: Option<PathBuf>,
    post: Option<PostProcessor>,
    writer_name: String,
    /// JSON: each field's `"name":`.
    json_keys: Vec<Vec<u8>>,
}

/// What [`LogWriter::with_options`] refuses (a LogCreate from the network is checked the
/// same way before the logger makes a writer for it).
pub(crate) fn check_writer(
    path: &str,
    fields: &[LogField],
    opts: &AsciiOptions,
    rotation: Option<Duration>,
) -> Result<()> {
    if path.is_empty() || path.contains('\0') {
        return Err(Error::invalid(format!(
            "log path {path:?}: must be non-empty and without NUL bytes"
        )));
    }
    // The path comes from the network too (a peer's LogCreate, a ZeroMQ log-write): it
    // must name a file inside the log directory. Zeek takes it as given; we refuse an
    // absolute path and any `..` component, so a peer cannot write elsewhere.
    let p = Path::new(path);
    if p.is_absolute()
        || p.components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(Error::invalid(format!(
            "log path {path:?}: must be relative to the log directory, without '..' components or a leading './'"
        )));
    }
    if fields.is_empty() {
        return Err(Error::invalid(format!(
            "log \"{path}\": a log needs at least one field"
        )));
    }
    if opts.separator.is_empty() || opts.set_separator.is_empty() {
        return Err(Error::invalid(
            "log separator and set_separator must be non-empty",
        ));
    }
    for (i, f) in fields.iter().enumerate() {
        let bad_bytes = f.name.bytes().any(|b| b == b'\n' || b == b'\r')
            || f.name
                .as_bytes()
                .windows(opts.separator.len())
                .any(|w| w == opts.separator.as_slice());
        if f.name.is_empty() || bad_bytes {
            return Err(Error::invalid(format!(
                "log \"{path}\": field {i} name {:?} must be non-empty and hold neither the separator nor a newline",
                f.name
            )));
        }
        if fields[..i].iter().any(|g| g.name == f.name) {
            return Err(Error::invalid(format!(
                "log \"{path}\": field name \"{}\" appears twice",
                f.name
            )));
        }
    }
    if rotation == Some(Duration::ZERO) {
        return Err(Error::invalid(format!(
            "log \"{path}\": a rotation interval must be positive (use None for no rotation)"
        )));
    }
    Ok(())
}

/// `%Y-%m-%d-%H-%M-%S` in local time, from whole seconds as Zeek's `time_t` cast.
pub fn zeek_date(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        // time_t's cast truncates towards zero.
        Err(e) => -(e.duration().as_secs() as i64),
    };
    match Local.timestamp_opt(secs, 0).earliest() {
        Some(dt) => dt.format("%Y-%m-%d-%H-%M-%S").to_string(),
        None => "1970-01-01-00-00-00".into(),
    }
}

fn secs_f64(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn from_secs_f64(s: f64) -> SystemTime {
    if s >= 0.0 {
        UNIX_EPOCH + Duration::from_secs_f64(s)
    } else {
        UNIX_EPOCH - Duration::from_secs_f64(-s)
    }
}

/// `util::detail::calc_next_rotate(now, interval, base=0)`: the next
/// `local midnight + k * interval` strictly after `now`, as a delay.
fn next_rotation_after(now: SystemTime, interval: Duration) -> SystemTime {
    let current = secs_f64(now);
    let iv = interval.as_secs_f64();
    let local: DateTime<Local> = DateTime::from(now);
    let start_of_day = local
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|m| Local.from_local_datetime(&m).earliest())
        .map(|d| d.timestamp() as f64);
    let delta = match start_of_day {
        Some(sod) => {
            let d = sod + ((current - sod) / iv).ceil() * iv - current;
            if d > 0.0 {
                d
            } else {
                iv
            }
        }
        None => (current / iv).floor() * iv + iv - current,
    };
    from_secs_f64(current + delta)
}

impl LogWriter {
    /// A writer of `<dir>/<path>.log` with Zeek's default ASCII markers. `dir` is created
    /// if missing; the file itself appears with the first record.
    ///
    /// Errors (InvalidArgument): an empty path or one with a NUL byte, no fields, a field
    /// name that is empty, repeated, or holds the separator or a newline, a zero
    /// rotation interval.
    pub fn new<F: Into<LogField>>(
        dir: impl AsRef<Path>,
        path: &str,
        fields: impl IntoIterator<Item = F>,
        format: LogFormat,
        rotation: Option<Duration>,
    ) -> Result<LogWriter> {
        LogWriter::with_options(dir, path, fields, format, rotation, AsciiOptions::default())
    }

    /// The writer of `cluster.log` (path `cluster`, fields `ts`, `node`, `message`).
    pub fn cluster(
        dir: impl AsRef<Path>,
        format: LogFormat,
        rotation: Option<Duration>,
    ) -> Result<LogWriter> {
        LogWriter::new(
            dir,
            "cluster",
            super::cluster_log_fields(),
            format,
            rotation,
        )
    }

    /// As [`LogWriter::new`] with other ASCII markers (`LogAscii::separator`, ...).
    pub fn with_options<F: Into<LogField>>(
        dir: impl AsRef<Path>,
        path: &str,
        fields: impl IntoIterator<Item = F>,
        format: LogFormat,
        rotation: Option<Duration>,
        opts: AsciiOptions,
    ) -> Result<LogWriter> {
        let fields: Vec<LogField> = fields.into_iter().map(Into::into).collect();
        check_writer(path, &fields, &opts, rotation)?;
        let json_keys = json::keys(&fields);
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| {
            Error::new(
                crate::error::ErrorKind::Io,
                format!("cannot create log directory {}: {e}", dir.display()),
            )
        })?;
        Ok(LogWriter {
            dir,
            path: path.to_string(),
            fields,
            format,
            opts,
            rotation,
            file: None,
            buf: Vec::new(),
            last_flush: SystemTime::now(),
            open_time: None,
            next_rotation: None,
            closed: false,
            rotation_dir: None,
            post: None,
            writer_name: "Log::WRITER_ASCII".into(),
            json_keys,
        })
    }

    /// `Log::default_rotation_dir`: rotated files go into this directory (relative to the
    /// log directory unless absolute; created when needed). None or empty: the log
    /// directory itself.
    pub fn set_rotation_dir(&mut self, dir: Option<PathBuf>) {
        self.rotation_dir = dir.filter(|d| !d.as_os_str().is_empty());
    }

    /// The post-processor run on every rotated file.
    pub fn set_post_processor(&mut self, pp: Option<PostProcessor>) {
        self.post = pp;
    }

    /// Appends one record that was already checked against the fields (the logger's
    /// path for records decoded from the wire). Otherwise as [`LogWriter::write_at`].
    pub(crate) fn write_checked(&mut self, record: &[Value], now: SystemTime) -> Result<()> {
        if self.closed {
            return Err(Error::closed(format!("log \"{}\" is closed", self.path)));
        }
        if self.open_time.is_none() {
            self.open_time = Some(now);
            self.last_flush = now;
            self.next_rotation = self.rotation.map(|iv| next_rotation_after(now, iv));
        }
        self.rotate_if_due(now)?;
        if self.file.is_none() {
            self.open(now)?;
        }
        match self.format {
            LogFormat::Ascii => ascii::record_into(&self.opts, &self.fields, record, &mut self.buf),
            LogFormat::Json => {
                json::record_with_keys(&self.json_keys, &self.fields, record, &mut self.buf)
            }
        }
        if self.buf.len() >= BUFFER_LIMIT {
            self.flush_at(now)?;
        }
        Ok(())
    }

    /// `<dir>/<path>.log`, the file records go to.
    pub fn file_path(&self) -> PathBuf {
        self.dir.join(format!("{}.{LOG_EXT}", self.path))
    }
    pub fn fields(&self) -> &[LogField] {
        &self.fields
    }
    pub fn format(&self) -> LogFormat {
        self.format
    }
    /// Bytes written by `write` but not yet in the file.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }
    /// When the next rotation is due (None without rotation or before the first record).
    pub fn next_rotation(&self) -> Option<SystemTime> {
        self.next_rotation
    }

    /// Appends one record (one value per field, `Value::None` for unset) at the current
    /// time. Returns the rotated file's path if a due rotation happened first.
    ///
    /// Errors: Closed after `close`; InvalidArgument for a wrong number of values; Type for
    /// a value the column's type does not take; Io if the file cannot be written.
    pub fn write(&mut self, record: &[Value]) -> Result<Option<PathBuf>> {
        self.write_at(record, SystemTime::now())
    }

    /// [`LogWriter::write`] with the clock given (`now` drives flushing, rotation, `#open`).
    pub fn write_at(&mut self, record: &[Value], now: SystemTime) -> Result<Option<PathBuf>> {
        if self.closed {
            return Err(Error::closed(format!("log \"{}\" is closed", self.path)));
        }
        if record.len() != self.fields.len() {
            return Err(Error::invalid(format!(
                "log \"{}\": record has {} values, the log has {} fields ({})",
                self.path,
                record.len(),
                self.fields.len(),
                self.fields
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        for (f, v) in self.fields.iter().zip(record) {
            if !f.ty.accepts(v) {
                return Err(Error::type_mismatch(format!(
                    "log \"{}\": field \"{}\" is a {} and cannot take a {} value",
                    self.path,
                    f.name,
                    f.ty.name(),
                    v.type_name()
                )));
            }
        }
        // The writer comes to life with its first record, as Zeek's does.
        if self.open_time.is_none() {
            self.open_time = Some(now);
            self.last_flush = now;
            self.next_rotation = self.rotation.map(|iv| next_rotation_after(now, iv));
        }
        let rotated = self.rotate_if_due(now)?;
        if self.file.is_none() {
            self.open(now)?;
        }
        let line = match self.format {
            LogFormat::Ascii => ascii::record(&self.opts, &self.fields, record),
            LogFormat::Json => json::record(&self.fields, record),
        };
        self.buf.extend_from_slice(&line);
        if self.buf.len() >= BUFFER_LIMIT || self.flush_due(now) {
            self.flush_at(now)?;
        }
        Ok(rotated)
    }

    /// The host loop's heartbeat: flushes if a second has passed since the last flush and
    /// rotates if a rotation is due. Returns the rotated file's path, if any.
    pub fn tick(&mut self, now: SystemTime) -> Result<Option<PathBuf>> {
        if self.closed {
            return Ok(None);
        }
        let rotated = self.rotate_if_due(now)?;
        if self.flush_due(now) {
            self.flush_at(now)?;
        }
        Ok(rotated)
    }

    /// Writes buffered records to the file now.
    pub fn flush(&mut self) -> Result<()> {
        self.flush_at(SystemTime::now())
    }

    /// Rotates now (if a file is open), as a due rotation would. Returns the new name.
    pub fn rotate(&mut self, now: SystemTime) -> Result<Option<PathBuf>> {
        if self.closed {
            return Err(Error::closed(format!("log \"{}\" is closed", self.path)));
        }
        let r = self.rotate_file(now)?;
        self.open_time = Some(now);
        if let Some(iv) = self.rotation {
            self.next_rotation = Some(next_rotation_after(now, iv));
        }
        Ok(r)
    }

    /// Closes the log: `#close` (ASCII), flush, and with rotation configured the final
    /// rotation (returning the rotated name). Later writes fail with Closed.
    pub fn close(&mut self) -> Result<Option<PathBuf>> {
        self.close_at(SystemTime::now())
    }

    /// [`LogWriter::close`] with the clock given.
    pub fn close_at(&mut self, now: SystemTime) -> Result<Option<PathBuf>> {
        if self.closed {
            return Ok(None);
        }
        self.closed = true;
        if self.rotation.is_some() {
            return self.rotate_file(now);
        }
        self.finish_file(now)?;
        Ok(None)
    }

    fn flush_due(&self, now: SystemTime) -> bool {
        match now.duration_since(self.last_flush) {
            Ok(d) => d >= FLUSH_INTERVAL,
            Err(_) => true, // the clock went back: do not wait for it
        }
    }

    fn io_err(&self, what: &str, e: std::io::Error) -> Error {
        let mut err = Error::from(e);
        err.message = format!("{what} {}: {}", self.file_path().display(), err.message);
        err
    }

    fn open(&mut self, now: SystemTime) -> Result<()> {
        let p = self.file_path();
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .map_err(|e| self.io_err("cannot open", e))?;
        if self.format == LogFormat::Ascii {
            let h = ascii::header(&self.opts, &self.path, &self.fields, &zeek_date(now));
            f.write_all(&h)
                .map_err(|e| self.io_err("error writing to", e))?;
        }
        self.file = Some(f);
        Ok(())
    }

    fn flush_at(&mut self, now: SystemTime) -> Result<()> {
        self.last_flush = now;
        if self.buf.is_empty() {
            return Ok(());
        }
        let Some(f) = self.file.as_mut() else {
            return Err(Error::internal(
                "log buffer holds records but no file is open",
            ));
        };
        let r = f.write_all(&self.buf);
        if let Err(e) = r {
            return Err(self.io_err("error writing to", e));
        }
        self.buf.clear();
        Ok(())
    }

    /// Flush, `#close`, close. No-op without an open file.
    fn finish_file(&mut self, now: SystemTime) -> Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        self.flush_at(now)?;
        if self.format == LogFormat::Ascii {
            let c = ascii::close_line(&self.opts, &zeek_date(now));
            if let Some(f) = self.file.as_mut() {
                if let Err(e) = f.write_all(&c) {
                    return Err(self.io_err("error writing to", e));
                }
            }
        }
        self.file = None;
        Ok(())
    }

    fn rotate_if_due(&mut self, now: SystemTime) -> Result<Option<PathBuf>> {
        match self.next_rotation {
            Some(due) if now >= due => self.rotate(now),
            _ => Ok(None),
        }
    }

    fn rotate_file(&mut self, now: SystemTime) -> Result<Option<PathBuf>> {
        if self.file.is_none() {
            return Ok(None);
        }
        self.finish_file(now)?;
        let opened = self.open_time.unwrap_or(now);
        let stamp = zeek_date(opened);
        let tdir = match &self.rotation_dir {
            Some(d) => {
                let d = self.dir.join(d);
                fs::create_dir_all(&d)
                    .map_err(|e| self.io_err("cannot create rotation dir for", e))?;
                d
            }
            None => self.dir.clone(),
        };
        let mut target = tdir.join(format!("{}.{stamp}.{LOG_EXT}", self.path));
        let mut n = 1;
        while target.exists() {
            target = tdir.join(format!("{}.{stamp}-{n}.{LOG_EXT}", self.path));
            n += 1;
        }
        let from = self.file_path();
        fs::rename(&from, &target).map_err(|e| {
            let mut err = Error::from(e);
            err.message = format!(
                "failed to rename {} to {}: {}",
                from.display(),
                target.display(),
                err.message
            );
            err
        })?;
        if let Some(pp) = &self.post {
            pp.run(&RotationInfo {
                writer: self.writer_name.clone(),
                fname: target.clone(),
                path: self.path.clone(),
                open: opened,
                close: now,
                terminating: self.closed,
            });
        }
        Ok(Some(target))
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        // Best effort: a writer dropped without close still leaves a complete file.
        let _ = self.close();
    }
}
