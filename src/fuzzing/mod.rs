//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs` are one-line wrappers), and the
//! seeds of their corpora, made with our own encoders.
//!
//! Every decoder that reads bytes from the network has a target here, driven the way the
//! network drives it: Broker's frames, handshake messages and envelopes, and the peer core
//! itself in each role and handshake stage with simulated time (`peer_core`); store
//! commands; Broker's LogCreate/LogWrite/Batch messages and Zeek's `zeek-bin-serializer`
//! log batches, decoded and rendered by the ASCII and JSON writers; Zeek's ZeroMQ
//! multipart messages (events, store commands, subscriptions, log batches); the WebSocket
//! API's upgrade request, frames and JSON messages in both directions. Each target returns
//! normally on any input and panics only when an invariant fails.
//!
//! `cargo test --test fuzz_corpus` replays every target's committed corpus
//! (`fuzz/corpus/<target>/`) plus deterministic mutations of it; `scripts/fuzz.sh` runs the
//! targets under libFuzzer. Not a stable API: hidden from the docs.

mod decoders;
mod input;
mod logs;
mod peer_core;
mod seeds;
mod websocket;
mod zeromq;

pub use decoders::{decode_binary, decode_frames, decode_json, decode_store_command, parse_json};
pub use input::Input;
pub use logs::{log_messages, zeek_log_batch};
pub use peer_core::peer_core;
pub use websocket::{websocket_handshake, websocket_messages};
pub use zeromq::zeromq_messages;

/// A fuzz target: arbitrary bytes in, a panic only for a broken invariant.
pub type Target = fn(&[u8]);

/// Every target, by the name of its cargo-fuzz binary and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("decode_binary", decode_binary),
    ("decode_json", decode_json),
    ("parse_json", parse_json),
    ("decode_frames", decode_frames),
    ("decode_store_command", decode_store_command),
    ("peer_core", peer_core),
    ("zeromq_messages", zeromq_messages),
    ("log_messages", log_messages),
    ("zeek_log_batch", zeek_log_batch),
    ("websocket_handshake", websocket_handshake),
    ("websocket_messages", websocket_messages),
];

/// The seed inputs of a target, made with our own encoders (`fuzz/corpus/<target>/` holds
/// them, see `tests/fuzz_corpus.rs`). Empty for an unknown name.
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    seeds::seeds(target)
}

/// The seeds reach what they were made for: past the handshake, the upgrade, the
/// LogCreate (a target that returns early on every seed would test nothing).
#[cfg(test)]
mod tests {
    use super::seeds;

    fn seed(target: &str, name: &str) -> Vec<u8> {
        seeds(target)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no seed {name} for {target}"))
            .1
    }

    #[test]
    fn seeds_reach_deep_states() {
        for role in ["in_lo", "in_hi", "out_lo", "out_hi"] {
            let s = seed("peer_core", &format!("{role}_peered_traffic"));
            assert_eq!(
                super::peer_core::run(&s),
                2,
                "{role}: the valid data and command"
            );
        }
        assert!(super::websocket::handshake_run(&seed("websocket_handshake", "session")) >= 5);
        assert!(
            super::websocket::handshake_run(&seed("websocket_handshake", "session_small_reads"))
                >= 5
        );
        assert_eq!(
            super::websocket::handshake_run(&seed("websocket_handshake", "bad_uri")),
            0
        );
        assert_eq!(
            super::websocket::messages_run(&seed("websocket_messages", "to_server")),
            2
        );
        assert_eq!(
            super::logs::messages_run(&seed("log_messages", "create_write")),
            1
        );
        assert_eq!(
            super::logs::messages_run(&seed("log_messages", "create_batch")),
            3
        );
        assert_eq!(
            super::logs::messages_run(&seed("log_messages", "write_without_create")),
            0
        );
        assert_eq!(
            super::logs::batch_run(&seed("zeek_log_batch", "records")),
            3
        );
        assert_eq!(
            super::zeromq::run(&seed("zeromq_messages", "session")),
            (1, 1, 3)
        );
        assert_eq!(
            super::zeromq::run(&seed("zeromq_messages", "hello_first")),
            (1, 0, 0)
        );
    }
}
