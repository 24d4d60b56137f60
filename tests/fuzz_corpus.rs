//! Every fuzz target (`zcluster::fuzzing`, run under libFuzzer by `scripts/fuzz.sh`) on its
//! committed seed corpus (`fuzz/corpus/<target>/`) and on deterministic pseudo-random
//! mutations of it, so each CI run checks every target in seconds.
//!
//! `ZC_UPDATE_CORPUS=1 cargo test --test fuzz_corpus` (re)writes the seeds our encoders
//! make (`fuzzing::seeds`) into the corpus directories; files found by fuzzing are kept
//! beside them. `ZC_FUZZ_MUTATIONS=n` changes the number of mutations per target.
//! A failing input is written to `target/fuzz-failures/<target>-<n>` for
//! `cargo fuzz run <target> <file>`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use zcluster::fuzzing::{self, Target, TARGETS};

const DEFAULT_MUTATIONS: usize = 2500;
const MAX_LEN: usize = 4096;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// The committed corpus (after writing the seeds, when asked).
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    if std::env::var_os("ZC_UPDATE_CORPUS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in fuzzing::seeds(target) {
            std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (ZC_UPDATE_CORPUS=1 writes the seeds)",
                dir.display()
            )
        })
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// xorshift64*: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// libFuzzer's kinds of mutation, a few at a time.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                v.insert(i, [0, 1, 0x7f, 0x80, 0xff][rng.below(5)]);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                v.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(32));
                let chunk = v[i..i + n].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            5 => v.truncate(rng.below(len + 1)),
            6 if !other.is_empty() => {
                // Splice: a prefix of this input, a suffix of another.
                let a = rng.below(len + 1);
                let b = rng.below(other.len());
                v.truncate(a);
                v.extend_from_slice(&other[b..]);
            }
            7 if len >= 2 => {
                // A length or count field: an extreme value.
                let i = rng.below(len - 1);
                let x = [0u16, 1, 0x7fff, 0xffff][rng.below(4)];
                v[i..i + 2].copy_from_slice(&x.to_le_bytes());
            }
            _ if len > 0 => {
                let i = rng.below(len);
                v[i] = v[i].wrapping_add(1 + rng.below(3) as u8);
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v.truncate(MAX_LEN);
    v
}

fn run_one(name: &str, target: Target, input: &[u8], what: &str, n: usize) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{name}-{n}"));
        std::fs::write(&file, input).unwrap();
        panic!(
            "fuzz target {name} failed on {what} (saved as {}; `cargo fuzz run {name} <file>`)",
            file.display()
        );
    }
}

fn check(name: &str) {
    let target = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    let files = corpus(name);
    assert!(!files.is_empty(), "fuzz/corpus/{name} is empty");
    let seeds = fuzzing::seeds(name);
    assert!(!seeds.is_empty(), "no seeds for {name}");
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for (file, bytes) in &files {
        run_one(name, target, bytes, &format!("corpus file {file}"), 0);
        inputs.push(bytes.clone());
    }
    // The seeds as this build makes them (the committed files may be older).
    for (seed, bytes) in &seeds {
        run_one(name, target, bytes, &format!("seed {seed}"), 0);
        inputs.push(bytes.clone());
    }
    let mutations = std::env::var("ZC_FUZZ_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_MUTATIONS);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15
        ^ name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(b)));
    // Hooks print panics; the failing input is reported by `run_one`.
    for n in 0..mutations {
        let a = &inputs[rng.below(inputs.len())];
        let b = &inputs[rng.below(inputs.len())];
        let m = mutate(&mut rng, a, b);
        run_one(name, target, &m, &format!("mutation {n}"), n + 1);
    }
}

#[test]
fn every_target_has_a_corpus_and_a_test() {
    let src = std::fs::read_to_string(file!()).unwrap();
    let cargo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"))
            .unwrap();
    let script =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fuzz.sh"))
            .unwrap();
    for (name, _) in TARGETS {
        assert!(
            src.contains(&format!("fn {name}()")),
            "no test for fuzz target {name}"
        );
        assert!(
            cargo.contains(&format!("name = \"{name}\"")),
            "{name} is not in fuzz/Cargo.toml"
        );
        assert!(script.contains(name), "{name} is not in scripts/fuzz.sh");
        let wrapper =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/fuzz_targets/{name}.rs"));
        assert!(wrapper.exists(), "{} is missing", wrapper.display());
    }
}

#[test]
fn decode_binary() {
    check("decode_binary");
}

#[test]
fn decode_json() {
    check("decode_json");
}

#[test]
fn parse_json() {
    check("parse_json");
}

#[test]
fn decode_frames() {
    check("decode_frames");
}

#[test]
fn decode_store_command() {
    check("decode_store_command");
}

#[test]
fn peer_core() {
    check("peer_core");
}

#[test]
fn zeromq_messages() {
    check("zeromq_messages");
}

#[test]
fn log_messages() {
    check("log_messages");
}

#[test]
fn zeek_log_batch() {
    check("zeek_log_batch");
}

#[test]
fn websocket_handshake() {
    check("websocket_handshake");
}

#[test]
fn websocket_messages() {
    check("websocket_messages");
}
