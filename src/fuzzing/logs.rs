//! Zeek's log messages as the logger receives them, decoded and written the way its
//! worker does, with the files replaced by memory: Broker's LogCreate / LogWrite / Batch
//! (`log::message`, the worker's `remote`) and `zeek-bin-serializer` batches
//! (`log::zeekser`, the ZeroMQ logger's sink). Every record that decodes is rendered by
//! the ASCII and the JSON writer, so they are fuzzed too.
//!
//! Invariants: an ASCII record is one line with one column per field (the separator and
//! newlines inside values are escaped); a JSON record is one line that parses as a JSON
//! object; the header names every field.

use crate::data::Value;
use crate::log::message::{self, LogMessage, LogMessageRef};
use crate::log::writer::check_writer;
use crate::log::{ascii, json, zeekser, AsciiOptions, LogField};
use std::collections::HashMap;

/// Renders a decoded record with both writers and checks their output.
pub(crate) fn render(path: &str, fields: &[LogField], rec: &[Value]) {
    let opts = AsciiOptions::default();
    assert_eq!(
        rec.len(),
        fields.len(),
        "a decoded record has one value per field"
    );
    let line = ascii::record(&opts, fields, rec);
    assert_eq!(line.last(), Some(&b'\n'), "an ASCII record ends its line");
    let body = &line[..line.len() - 1];
    assert!(
        !body.contains(&b'\n'),
        "a newline inside an ASCII record: {:?}",
        String::from_utf8_lossy(&line)
    );
    assert_eq!(
        body.split(|&b| b == b'\t').count(),
        fields.len(),
        "an ASCII record of {} fields: {:?}",
        fields.len(),
        String::from_utf8_lossy(&line)
    );
    let j = json::record(fields, rec);
    assert_eq!(j.last(), Some(&b'\n'), "a JSON record ends its line");
    assert!(
        !j[..j.len() - 1].contains(&b'\n'),
        "a newline inside a JSON record"
    );
    match crate::json::parse_bytes(&j[..j.len() - 1]) {
        Ok(v) => assert!(v.as_object().is_some(), "a JSON record is an object"),
        Err(e) => panic!(
            "the JSON writer wrote invalid JSON ({}): {:?}",
            e.message,
            String::from_utf8_lossy(&j)
        ),
    }
    let header = ascii::header(&opts, path, fields, "2026-01-01-00-00-00");
    assert!(header.ends_with(b"\n"));
}

/// A logger's writers by (writer, path): the fields of each (None: refused).
type Writers = HashMap<(String, String), Option<Vec<LogField>>>;

fn create(writers: &mut Writers, writer: &str, path: &str, fields: Vec<LogField>) {
    let key = (writer.to_string(), path.to_string());
    if writers.contains_key(&key) {
        return; // the first LogCreate wins (creates_ignored)
    }
    let ok = writer == "Log::WRITER_NONE"
        || check_writer(path, &fields, &AsciiOptions::default(), None).is_ok();
    writers.insert(key, ok.then_some(fields));
}

fn write(
    writers: &Writers,
    writer: &str,
    path: &str,
    serial: &[u8],
    rec: &mut Vec<Value>,
) -> usize {
    let Some(Some(fields)) = writers.get(&(writer.to_string(), path.to_string())) else {
        return 0; // no LogCreate: dropped
    };
    if zeekser::decode_record_reuse(fields, serial, rec).is_ok() && writer != "Log::WRITER_NONE" {
        render(path, fields, rec);
        return 1;
    }
    0
}

/// Input: Broker-encoded log messages, each with a u16 length prefix (one connection's
/// consecutive messages, so a LogCreate is seen by the LogWrites after it).
pub fn log_messages(data: &[u8]) {
    messages_run(data);
}

/// [`log_messages`], returning the records written.
pub(crate) fn messages_run(data: &[u8]) -> usize {
    let mut written = 0;
    let mut inp = super::Input::new(data);
    let mut writers = Writers::new();
    let mut rec = Vec::new();
    for payload in inp.parts(64) {
        let _ = message::message_type(payload);
        let is_log = message::is_log_message(payload);
        let mut msgs = Vec::new();
        let r = message::parse_with(payload, |m| msgs.push(m));
        // The generic parse agrees with the borrowing one.
        let all = message::parse(payload);
        assert_eq!(r.is_ok(), all.is_ok(), "parse and parse_with disagree");
        if r.is_err() {
            continue;
        }
        assert!(is_log, "parsed a log message that is_log_message refuses");
        if let Ok(all) = &all {
            assert_eq!(all.len(), msgs.len());
        }
        for m in msgs {
            match m {
                LogMessageRef::Owned(LogMessage::Create {
                    writer,
                    info,
                    fields,
                    ..
                }) => create(&mut writers, &writer, &info.path, fields),
                LogMessageRef::Owned(LogMessage::Write {
                    writer,
                    path,
                    serial,
                    ..
                }) => written += write(&writers, &writer, &path, &serial, &mut rec),
                LogMessageRef::Write {
                    writer,
                    path,
                    serial,
                    ..
                } => written += write(&writers, writer, path, serial, &mut rec),
            }
        }
    }
    written
}

/// A `zeek-bin-serializer` log-write payload (frame 4 of a ZeroMQ `log-write` message),
/// as the ZeroMQ logger's sink takes it: decoded, its records rendered; what decodes
/// re-encodes to the same bytes.
pub fn zeek_log_batch(data: &[u8]) {
    batch_run(data);
}

/// [`zeek_log_batch`], returning the records written.
pub(crate) fn batch_run(data: &[u8]) -> usize {
    let Ok((h, records)) = zeekser::decode_log_batch(data) else {
        return 0;
    };
    let Ok(fields) = h
        .fields
        .iter()
        .map(zeekser::Field::to_log_field)
        .collect::<crate::Result<Vec<LogField>>>()
    else {
        panic!("decode_log_batch took fields that do not convert");
    };
    if h.writer_name == "Log::WRITER_NONE" {
        return 0;
    }
    if check_writer(&h.path, &fields, &AsciiOptions::default(), None).is_err() {
        return 0;
    }
    for r in &records {
        render(&h.path, &fields, r);
        let mut one = Vec::new();
        zeekser::encode_record(&fields, r, &mut one).expect("a decoded record encodes");
        let back = zeekser::decode_record(&fields, &one).expect("our own record decodes");
        assert!(same_values(&back, r), "a record changed on its way back");
    }
    records.len()
}

/// Equality with NaN equal to itself (a decoded NaN stays NaN).
fn same_values(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Value::Real(p), Value::Real(q)) => {
                p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())
            }
            _ => x == y || format!("{x:?}") == format!("{y:?}"),
        })
}
