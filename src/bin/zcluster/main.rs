//! `zcluster`: run a node, run a cluster on this machine, check and convert layouts, publish
//! and subscribe to topics, and look at a node, from a shell.
//!
//! Output for scripts is JSON lines (Zeek's WebSocket JSON for events, written by the Broker
//! JSON codec in `zcluster::data::json`); errors go to stderr as `zcluster: <message>` and
//! the exit code says what kind of failure it was (see `EXIT CODES` in `--help`).

mod cli;
mod cluster_cmd;
mod demo;
mod layout_cmd;
mod literal;
mod net;
mod node;
mod options_cmd;
mod progress;
mod store_cmd;
mod zeromq_proxy;

use clap::Parser;
use std::process::ExitCode;

/// A failure with the exit code a script can rely on.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

/// Exit codes (also in `--help` and the README).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Any other failure (I/O, a peer that broke the protocol, a node that failed).
    pub const FAILURE: u8 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: u8 = 2;
    /// Bad input: a malformed layout, literal, JSON value or option.
    pub const BAD_INPUT: u8 = 3;
    /// A peer could not be reached, or the connection was lost.
    pub const UNREACHABLE: u8 = 4;
    /// A `--timeout` ran out first (fewer than `--count` events, no subscriber).
    pub const TIMEOUT: u8 = 5;
    /// The named thing does not exist (node, store key, cluster directory).
    pub const NOT_FOUND: u8 = 6;
    /// Not supported by this build (a WebSocket URL before the WebSocket client).
    pub const UNSUPPORTED: u8 = 7;
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// Library errors map to exit codes by kind.
impl From<zcluster::Error> for Failure {
    fn from(e: zcluster::Error) -> Failure {
        use zcluster::ErrorKind as K;
        let code = match e.kind {
            K::Parse | K::InvalidArgument | K::Utf8 | K::Decode | K::Type => exit::BAD_INPUT,
            K::NotFound => exit::NOT_FOUND,
            K::Timeout => exit::TIMEOUT,
            _ => exit::FAILURE,
        };
        Failure::new(code, e.message)
    }
}

pub type Res<T = ()> = std::result::Result<T, Failure>;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let r = match cli.command {
        cli::Cmd::Run(a) => node::run(a),
        cli::Cmd::Cluster(a) => cluster_cmd::main(a),
        cli::Cmd::Layout(a) => layout_cmd::main(a),
        cli::Cmd::Publish(a) => net::publish(a),
        cli::Cmd::Subscribe(a) => net::subscribe(a),
        cli::Cmd::Store(a) => store_cmd::main(a),
        cli::Cmd::Status(a) => net::status(a),
        cli::Cmd::ZeromqProxy(a) => zeromq_proxy::main(a),
        cli::Cmd::Options(a) => options_cmd::main(a),
    };
    match r {
        Ok(()) => ExitCode::from(exit::OK),
        Err(f) => {
            progress::clear();
            eprintln!("zcluster: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
