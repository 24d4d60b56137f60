//! A standalone endpoint process for cross-process tests and protocol checks.
//!
//!   zc_endpoint_node [--listen PORT] [--peer HOST:PORT]... [--subscribe PREFIX]...
//!                    [--publish TOPIC --count N] [--no-forwarding] [--seconds S]
//!                    [--expect N]   (count data messages quietly; print RECEIVED and the rate)
//!                    [--option NAME=VALUE]...   (endpoint options by name, e.g.
//!                    Broker::disable_ssl=T for plain TCP; TLS is on by default, as in Zeek)
//!
//! Prints one line per message: `LISTEN <port>`, `STATUS <kind> <peer-id> <addr>:<port> <text>`,
//! `DATA <topic> <payload-hex>`. Exits after S seconds (default: run until killed).

use std::time::{Duration, Instant};
use zcluster::endpoint::{Endpoint, EndpointOptions};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = EndpointOptions::default();
    let (mut listen, mut peers, mut subs) = (None, Vec::new(), Vec::new());
    let (mut publish, mut count, mut seconds) = (None, 1u64, None);
    let mut expect: Option<u64> = None;
    let mut i = 0;
    let arg = |i: usize| {
        args.get(i + 1)
            .cloned()
            .unwrap_or_else(|| panic!("{} needs a value", args[i]))
    };
    while i < args.len() {
        match args[i].as_str() {
            "--listen" => listen = Some(arg(i).parse::<u16>().expect("port")),
            "--peer" => peers.push(arg(i)),
            "--subscribe" => subs.push(arg(i)),
            "--publish" => publish = Some(arg(i)),
            "--count" => count = arg(i).parse().expect("count"),
            "--expect" => expect = Some(arg(i).parse::<u64>().expect("count")),
            "--seconds" => seconds = Some(arg(i).parse::<f64>().expect("seconds")),
            "--option" => {
                let kv = arg(i);
                let (k, v) = kv.split_once('=').expect("--option NAME=VALUE");
                opts.set(k, v)
                    .unwrap_or_else(|e| panic!("--option {kv}: {e}"));
            }
            "--no-forwarding" => {
                opts.forwarding = false;
                i += 1;
                continue;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    let ep = Endpoint::new(opts).expect("endpoint");
    println!("ID {}", ep.id());
    for s in &subs {
        ep.subscribe(s).expect("subscribe");
    }
    if let Some(p) = listen {
        println!("LISTEN {}", ep.listen("127.0.0.1", p).expect("listen"));
    }
    for p in &peers {
        let (h, port) = p.rsplit_once(':').expect("HOST:PORT");
        ep.peer(h, port.parse().expect("port"), Duration::from_secs(1))
            .expect("peer");
    }
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs_f64(s));
    let mut published = false;
    let (mut received, mut first) = (0u64, None::<Instant>);
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if let Some(m) = ep.next(Some(Duration::from_millis(100))) {
            if m.is_status() {
                let p = m.peer.clone().expect("status has a peer");
                let id = p.id.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
                println!(
                    "STATUS {:?} {} {}:{} {}",
                    m.kind, id, p.address, p.port, m.text
                );
            } else {
                if let Some(n) = expect {
                    received += 1;
                    let t0 = *first.get_or_insert_with(Instant::now);
                    if received == n {
                        let dt = t0.elapsed().as_secs_f64();
                        println!(
                            "RECEIVED {n} in {dt:.3} s: {:.0} events/s",
                            n as f64 / dt.max(1e-9)
                        );
                        break;
                    }
                } else {
                    println!("DATA {} {}", m.topic, hex(&m.payload));
                }
            }
        }
        if let (Some(t), false) = (&publish, published) {
            if ep.await_peer_subscription(t, Duration::ZERO) {
                for n in 0..count {
                    let mut p = vec![2u8];
                    p.extend_from_slice(&n.to_be_bytes());
                    ep.publish(t, p).expect("publish");
                }
                println!("PUBLISHED {count}");
                published = true;
            }
        }
    }
}
