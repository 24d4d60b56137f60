//! Zeek's ZeroMQ backend as a node reads it (`zeromq::node`), one multipart message at a
//! time: XSUB messages (4 frames: topic, sender, format, payload; `broker-bin-v1` events,
//! the `Cluster::Backend::ZeroMQ::hello`, zcluster's `zcluster-store-v1` store commands),
//! XPUB subscription frames (`\x01topic` / `\x00topic`, nodeid topics, the
//! ready-to-publish probe), PULL log-writes (`zeek-bin-serializer`), and time passing
//! for the hello's expiry.
//!
//! Invariants: a payload `bin::validate` accepts decodes; an accepted hello has two
//! string arguments; `Membership` reports a node up only while it is down and down only
//! while it is up, and every hello it publishes decodes as an event.

use super::input::{Input, Out};
use crate::data::{bin, Event, Value};
use crate::store::InternalCommand;
use crate::zeromq::frames::{self, Incoming, SubChange};
use crate::zeromq::membership::{Action, Membership};
use std::collections::HashSet;
use std::time::{Duration, Instant};

pub(crate) const MY_ID: &str = "zeromq_fuzz_1";
pub(crate) const NODEID_PREFIX: &str = "zeek.cluster.nodeid.";
pub(crate) const PROBE: &str = "zeek.cluster.internal.zeromq_fuzz_1.1.";

/// Which socket a message came from (the first byte of each message).
pub(crate) mod sock {
    pub const XSUB: u8 = 0;
    pub const XPUB: u8 = 1;
    pub const PULL: u8 = 2;
    pub const TICK: u8 = 3;
}

struct Node {
    members: Membership,
    up: HashSet<String>,
    ups: usize,
    events: usize,
    now: Instant,
    ready: bool,
    subs: Vec<String>,
}

impl Node {
    fn apply(&mut self, acts: Vec<Action>) {
        for a in acts {
            match a {
                Action::Up(id) => {
                    assert!(self.up.insert(id), "a node reported up twice");
                    self.ups += 1;
                }
                Action::Down(id) => assert!(self.up.remove(&id), "a node down that was not up"),
                Action::Publish { topic, payload } => {
                    assert!(topic.starts_with(NODEID_PREFIX));
                    let ev = Event::from_bytes(&payload).expect("our own hello decodes");
                    assert_eq!(ev.name, frames::ZMQ_HELLO_EVENT);
                }
                Action::Warn(_) => {}
            }
        }
    }

    /// `node.rs` `on_event`, without the endpoint.
    fn event(&mut self, topic: &[u8], sender: &[u8], payload: &[u8], store: bool) {
        if sender == MY_ID.as_bytes() {
            return;
        }
        let Ok(topic) = std::str::from_utf8(topic) else {
            return;
        };
        if !self.subs.iter().any(|s| topic.starts_with(s.as_str())) {
            return;
        }
        let _ = crate::zeromq::endpoint_id_of(sender);
        if store {
            // What the store service does with the delivered command.
            let _ = InternalCommand::decode(payload);
            return;
        }
        if bin::validate(payload).is_err() {
            return;
        }
        let v = bin::decode(payload).expect("a payload validate accepts decodes");
        let name = Event::name_of(payload);
        if name == Some(frames::ZMQ_HELLO_EVENT.as_bytes()) {
            if let Ok(ev) = Event::from_bytes(payload) {
                if let [Value::String(n), Value::String(i)] = ev.args.as_slice() {
                    let mut acts = Vec::new();
                    self.members.on_hello(
                        &String::from_utf8_lossy(n),
                        &String::from_utf8_lossy(i),
                        self.now,
                        &mut acts,
                    );
                    self.apply(acts);
                }
            }
            return;
        }
        // The host decodes what it is handed.
        if let Ok(ev) = Event::from_bytes(payload) {
            assert_eq!(
                Some(ev.name.as_bytes()),
                name,
                "name_of and from_bytes disagree"
            );
        }
        let _ = crate::data::json::to_json(&v);
        self.events += 1;
    }
}

/// Input: messages, each a socket byte (see `sock`), a frame count byte, then that many
/// frames with a u16 length prefix.
pub fn zeromq_messages(data: &[u8]) {
    run(data);
}

/// [`zeromq_messages`], returning (nodes reported up, events for the host, log records).
pub(crate) fn run(data: &[u8]) -> (usize, usize, usize) {
    let mut inp = Input::new(data);
    let mut node = Node {
        members: Membership::new("fuzz", MY_ID, NODEID_PREFIX, Duration::from_secs(60)),
        up: HashSet::new(),
        ups: 0,
        events: 0,
        now: Instant::now(),
        ready: false,
        subs: vec!["zeek.".into(), "a".into(), "s/".into()],
    };
    let mut msgs = 0;
    let mut records = 0;
    while !inp.is_empty() && msgs < 256 {
        msgs += 1;
        let socket = inp.u8() % 4;
        let n = usize::from(inp.u8() % 8);
        let parts: Vec<&[u8]> = (0..n).map(|_| inp.bytes()).collect();
        match socket {
            sock::XSUB => match frames::classify(&parts) {
                Incoming::Event {
                    topic,
                    sender,
                    payload,
                } => node.event(topic, sender, payload, false),
                Incoming::Store {
                    topic,
                    sender,
                    receiver,
                    payload,
                } => {
                    let _ = receiver.is_nil();
                    node.event(topic, sender, payload, true)
                }
                Incoming::Bad(_) => {}
            },
            sock::XPUB => {
                let mut acts = Vec::new();
                match frames::sub_change(&parts) {
                    Some(SubChange::Subscribe(t)) => {
                        if !node.ready && t == PROBE.as_bytes() {
                            node.ready = true;
                            assert_eq!(frames::sub_frame(false, PROBE)[0], 0);
                        }
                        node.members.on_subscription(t, node.now, &mut acts);
                    }
                    Some(SubChange::Unsubscribe(t)) => node.members.on_unsubscription(t, &mut acts),
                    None => {}
                }
                node.apply(acts);
            }
            sock::PULL => {
                // `logs::logger_sink`: frames 1-3 are sender, format, payload.
                if parts.len() == 4 && parts[2] == frames::ZEEK_BIN_SERIALIZER {
                    records += super::logs::batch_run(parts[3]);
                }
            }
            _ => {
                node.now += Duration::from_secs(u64::from(parts.len() as u8) * 20);
                let mut acts = Vec::new();
                node.members.tick(node.now, &mut acts);
                let _ = node.members.next_deadline();
                node.apply(acts);
            }
        }
    }
    (node.ups, node.events, records)
}

/// One message in the input's shape.
pub(crate) fn message(o: &mut Out, socket: u8, parts: &[&[u8]]) {
    o.u8(socket).u8(parts.len() as u8);
    for p in parts {
        o.bytes(p);
    }
}
