//! The first stage of the ZeroMQ backend's hello, sans-IO (`zeromq/main.zeek` 80-192):
//! which subscriptions and `Cluster::Backend::ZeroMQ::hello` events make a node known,
//! and which unsubscriptions make it gone.
//!
//! When node B has seen both A's nodeid subscription and A's ZeroMQ::hello, B sends A a
//! `Cluster::hello`: here that moment is `Action::Up(A's id)`, which the I/O thread reports
//! as `PeerAdded` (peer address = A's node id) and the cluster layer answers with the
//! `Cluster::hello`, exactly as it answers a Broker peering. The unsubscription of A's
//! nodeid topic (or a ZeroMQ::hello from A's name with a new id: "never said goodbye")
//! is `Action::Down`, reported as `PeerLost`, which the cluster layer turns into
//! `node_down` for the node that said hello with that id.

use crate::data::{Event, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Publish an encoded event on a topic.
    Publish { topic: String, payload: Vec<u8> },
    /// Both halves of the hello from this node id are here.
    Up(String),
    /// This node id is gone.
    Down(String),
    /// What Zeek reports with `Reporter::warning`.
    Warn(String),
}

pub struct Membership {
    my_name: String,
    my_id: String,
    /// `nodeid_topic_prefix + "."`.
    prefix: String,
    expiration: Duration,
    /// Subscriptions seen on XPUB (the first sighting raises `subscription`).
    seen: HashSet<Vec<u8>>,
    /// Nodeid subscriptions whose ZeroMQ::hello has not come yet.
    subs: HashMap<String, Instant>,
    /// ZeroMQ::hellos whose nodeid subscription has not come yet.
    hellos: HashMap<String, Instant>,
    /// name -> id of the last ZeroMQ::hello per node name.
    names: HashMap<String, String>,
    /// Ids reported up and not down since.
    up: HashSet<String>,
}

impl Membership {
    pub fn new(my_name: &str, my_id: &str, nodeid_prefix: &str, expiration: Duration) -> Self {
        Membership {
            my_name: my_name.to_string(),
            my_id: my_id.to_string(),
            prefix: nodeid_prefix.to_string(),
            expiration,
            seen: HashSet::new(),
            subs: HashMap::new(),
            hellos: HashMap::new(),
            names: HashMap::new(),
            up: HashSet::new(),
        }
    }

    /// `zeromq_nodeid_topic(id)`.
    pub fn nodeid_topic(&self, id: &str) -> String {
        format!("{}{id}.", self.prefix)
    }

    fn nodeid_of<'a>(&self, topic: &'a str) -> Option<&'a str> {
        // `topic[|prefix|:][:-1]`: the id between the prefix and the trailing dot.
        let rest = topic.strip_prefix(&self.prefix)?;
        let mut chars = rest.chars();
        chars.next_back()?;
        Some(chars.as_str())
    }

    fn hello_payload(&self) -> Vec<u8> {
        Event::with_args(
            super::frames::ZMQ_HELLO_EVENT,
            vec![
                Value::String(self.my_name.as_bytes().to_vec()),
                Value::String(self.my_id.as_bytes().to_vec()),
            ],
        )
        .to_bytes()
    }

    /// A `\x01topic` on XPUB. Returns whether it was the first sighting.
    pub fn on_subscription(&mut self, topic: &[u8], now: Instant, out: &mut Vec<Action>) -> bool {
        if !self.seen.insert(topic.to_vec()) {
            return false;
        }
        let Ok(t) = std::str::from_utf8(topic) else {
            return true;
        };
        let Some(id) = self.nodeid_of(t) else {
            return true;
        };
        if id == self.my_id {
            return true;
        }
        let id = id.to_string();
        out.push(Action::Publish {
            topic: t.to_string(),
            payload: self.hello_payload(),
        });
        if self.hellos.remove(&id).is_some() {
            self.up.insert(id.clone());
            out.push(Action::Up(id));
        } else {
            self.subs.insert(id, now);
        }
        true
    }

    /// A `\x00topic` on XPUB.
    pub fn on_unsubscription(&mut self, topic: &[u8], out: &mut Vec<Action>) {
        self.seen.remove(topic);
        let Ok(t) = std::str::from_utf8(topic) else {
            return;
        };
        let Some(id) = self.nodeid_of(t) else {
            return;
        };
        if id == self.my_id {
            return;
        }
        self.subs.remove(id);
        self.hellos.remove(id);
        if self.up.remove(id) {
            out.push(Action::Down(id.to_string()));
        } else {
            out.push(Action::Warn(format!(
                "unsubscription of unknown node with id '{id}'"
            )));
        }
    }

    /// A `Cluster::Backend::ZeroMQ::hello(name, id)` event.
    pub fn on_hello(&mut self, name: &str, id: &str, now: Instant, out: &mut Vec<Action>) {
        if id == self.my_id {
            return;
        }
        match self.names.get(name) {
            Some(old) if old == id => {
                out.push(Action::Warn(format!(
                    "node '{name}' sends ZeroMQ::hello twice (id:{id})"
                )));
                return;
            }
            Some(old) => {
                let old = old.clone();
                if self.up.remove(&old) {
                    out.push(Action::Warn(format!(
                        "node '{name}' never said goodbye (old id:{old} new id:{id}"
                    )));
                    out.push(Action::Down(old));
                }
            }
            None => {}
        }
        self.names.insert(name.to_string(), id.to_string());
        if self.subs.remove(id).is_some() {
            self.up.insert(id.to_string());
            out.push(Action::Up(id.to_string()));
        } else {
            self.hellos.insert(id.to_string(), now);
        }
    }

    /// Expires half-done hellos after `hello_expiration`, with Zeek's warnings.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        let exp = self.expiration;
        self.subs.retain(|id, at| {
            let keep = now.saturating_duration_since(*at) < exp;
            if !keep {
                out.push(Action::Warn(format!(
                    "Expired subscription from nodeid {id}"
                )));
            }
            keep
        });
        self.hellos.retain(|id, at| {
            let keep = now.saturating_duration_since(*at) < exp;
            if !keep {
                out.push(Action::Warn(format!("Expired hello from nodeid {id}")));
            }
            keep
        });
    }

    /// When `tick` next has something to expire.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.subs
            .values()
            .chain(self.hellos.values())
            .min()
            .map(|t| *t + self.expiration)
    }

    /// Forgets every subscription seen (the proxy connection was lost and libzmq reported
    /// the unsubscriptions already).
    pub fn ids_up(&self) -> impl Iterator<Item = &String> {
        self.up.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Membership {
        Membership::new("b", "idB", "zeek.cluster.nodeid.", Duration::from_secs(10))
    }

    #[test]
    fn subscription_then_hello_is_up_and_answers_with_our_hello() {
        let mut m = m();
        let now = Instant::now();
        let mut out = Vec::new();
        assert!(m.on_subscription(b"zeek.cluster.nodeid.idA.", now, &mut out));
        assert_eq!(out.len(), 1);
        match &out[0] {
            Action::Publish { topic, payload } => {
                assert_eq!(topic, "zeek.cluster.nodeid.idA.");
                let ev = Event::from_bytes(payload).unwrap();
                assert_eq!(ev.name, "Cluster::Backend::ZeroMQ::hello");
                assert_eq!(
                    ev.args,
                    vec![Value::String(b"b".to_vec()), Value::String(b"idB".to_vec())]
                );
            }
            a => panic!("{a:?}"),
        }
        out.clear();
        // Seen again (XPUB_VERBOSE repeats it): nothing.
        assert!(!m.on_subscription(b"zeek.cluster.nodeid.idA.", now, &mut out));
        assert!(out.is_empty());
        m.on_hello("a", "idA", now, &mut out);
        assert_eq!(out, vec![Action::Up("idA".into())]);
        out.clear();
        m.on_unsubscription(b"zeek.cluster.nodeid.idA.", &mut out);
        assert_eq!(out, vec![Action::Down("idA".into())]);
    }

    #[test]
    fn hello_then_subscription_is_up_too() {
        let mut m = m();
        let now = Instant::now();
        let mut out = Vec::new();
        m.on_hello("a", "idA", now, &mut out);
        assert!(out.is_empty());
        m.on_subscription(b"zeek.cluster.nodeid.idA.", now, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], Action::Up("idA".into()));
    }

    #[test]
    fn own_and_foreign_topics_and_restarts() {
        let mut m = m();
        let now = Instant::now();
        let mut out = Vec::new();
        m.on_subscription(b"zeek.cluster.nodeid.idB.", now, &mut out);
        m.on_subscription(b"zeek.cluster.worker", now, &mut out);
        m.on_subscription(b"\xff\xfe", now, &mut out);
        assert!(out.is_empty());
        m.on_subscription(b"zeek.cluster.nodeid.idA.", now, &mut out);
        m.on_hello("a", "idA", now, &mut out);
        out.clear();
        // A restarted "a" with a new id: the old one is down first.
        m.on_hello("a", "idA2", now, &mut out);
        assert_eq!(out[1], Action::Down("idA".into()));
        out.clear();
        m.on_hello("a", "idA2", now, &mut out);
        assert!(matches!(&out[0], Action::Warn(w) if w.contains("twice")));
        out.clear();
        m.on_unsubscription(b"zeek.cluster.nodeid.idX.", &mut out);
        assert!(matches!(&out[0], Action::Warn(w) if w.contains("unknown node")));
    }

    #[test]
    fn half_hellos_expire() {
        let mut m = m();
        let now = Instant::now();
        let mut out = Vec::new();
        m.on_hello("a", "idA", now, &mut out);
        m.on_subscription(b"zeek.cluster.nodeid.idC.", now, &mut out);
        out.clear();
        assert_eq!(m.next_deadline(), Some(now + Duration::from_secs(10)));
        m.tick(now + Duration::from_secs(11), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(m.next_deadline(), None);
    }
}
