//! Micro-benchmark of the data encodings (no extra crate; plain std::time):
//! a typical small event (a string, a count, an address) and a 1,000-element table,
//! binary encode/decode and JSON encode/decode. Prints ns per operation.
//!
//!   cargo bench --bench data

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};
use zcluster::data::{bin, json as bjson, Event, Value};

/// CPU time of the calling thread: the machine is shared, so wall-clock time would count
/// the time other processes hold the CPU.
fn thread_cpu_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn measure(name: &str, mut f: impl FnMut()) {
    // Warm up, then run batches for 1 s of CPU time; report the best batch (thread CPU
    // time per operation).
    for _ in 0..100 {
        f();
    }
    let mut best = f64::MAX;
    let mut total_ops = 0u64;
    let start = thread_cpu_ns();
    let wall = Instant::now();
    while thread_cpu_ns() - start < 1_000_000_000 && wall.elapsed() < Duration::from_secs(30) {
        let n: u32 = 20;
        let t = thread_cpu_ns();
        for _ in 0..n {
            f();
        }
        let per = (thread_cpu_ns() - t) as f64 / f64::from(n);
        best = best.min(per);
        total_ops += u64::from(n);
    }
    println!("{name:<36} {best:>12.0} ns/op   ({total_ops} ops)");
}

fn main() {
    let event = Event::with_args(
        "Demo::ping",
        vec![
            Value::from("hello from worker-1"),
            Value::Count(42),
            Value::Address("10.1.2.3".parse().unwrap()),
        ],
    );
    let ev_value = event.to_value();
    let ev_bytes = bin::encode_to_vec(&ev_value);
    let ev_json = bjson::to_json(&ev_value);

    let table: BTreeMap<Value, Value> = (0..1000u64)
        .map(|i| (Value::from(format!("key-{i:04}")), Value::Count(i)))
        .collect();
    let table = Value::Table(table);
    let table_bytes = bin::encode_to_vec(&table);
    let table_json = bjson::to_json(&table);

    println!(
        "small event: {} bytes binary, {} bytes JSON",
        ev_bytes.len(),
        ev_json.len()
    );
    println!(
        "1,000-entry table: {} bytes binary, {} bytes JSON",
        table_bytes.len(),
        table_json.len()
    );
    let mut buf = Vec::with_capacity(64 * 1024);
    measure("event: to_value + binary encode", || {
        buf.clear();
        bin::encode(&black_box(&event).to_value(), &mut buf);
        black_box(&buf);
    });
    measure("event: binary decode + from_value", || {
        black_box(Event::from_bytes(black_box(&ev_bytes)).unwrap());
    });
    measure("event: JSON encode", || {
        black_box(bjson::to_json(black_box(&ev_value)));
    });
    measure("event: JSON decode", || {
        black_box(bjson::from_json(black_box(&ev_json)).unwrap());
    });
    measure("table(1000): binary encode", || {
        buf.clear();
        bin::encode(black_box(&table), &mut buf);
        black_box(&buf);
    });
    measure("table(1000): binary decode", || {
        black_box(bin::decode(black_box(&table_bytes)).unwrap());
    });
    measure("table(1000): JSON encode", || {
        black_box(bjson::to_json(black_box(&table)));
    });
    measure("table(1000): JSON decode", || {
        black_box(bjson::from_json(black_box(&table_json)).unwrap());
    });
}
