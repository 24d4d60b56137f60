//! The table: one line per option (see "Adding an option" in the module docs).
//!
//! Cluster options are Zeek's redefinable globals, by their Zeek names and with the
//! defaults of the references: the current framework (`base/frameworks/cluster/main.zeek`,
//! seed 001; e.g. `retry_interval = 1.0 min`, Zeek 7.2 lowered it to 1 sec), Bro 2.5's
//! `main.bro` (seed 000: the event-name patterns, kept as pattern source text; the three
//! `*2logger_events` were in Bro 2.5's main.bro but not in the seed), `init-bare.zeek`,
//! `policy/frameworks/cluster/backend/zeromq/options.zeek`, `base/frameworks/broker/main.zeek`,
//! `base/frameworks/logging/main.zeek`, `base/frameworks/telemetry/options.zeek`,
//! `base/frameworks/cluster/types.zeek`. `Cluster::nodes` is the layout itself and
//! `Cluster::stores` a table of records (the store options); neither is an option here.

use super::Scope::{Backend, Cluster, Endpoint, Store, WebSocket, WebSocketClient};
use super::Spec;
use super::Type::{self, Addr, Bool, Count, Enum, Int, Interval, Pattern, Port, Str};

macro_rules! opt {
    ($scope:expr, $name:literal $(| $alias:literal)*, $ty:expr, $default:literal, $doc:literal) => {
        Spec {
            scope: $scope,
            name: $name,
            aliases: &[$($alias),*],
            ty: $ty,
            default: $default,
            doc: $doc,
        }
    };
}

/// `Cluster::default_backend`'s constants.
const BACKENDS: Type = Enum(&["Broker::MEMORY", "Broker::SQLITE", "Broker::ROCKSDB"]);

/// `Cluster::backend`'s constants (`init-bare.zeek`); zcluster speaks both.
pub const CLUSTER_BACKENDS: &[&str] = &[
    "Cluster::CLUSTER_BACKEND_BROKER",
    "Cluster::CLUSTER_BACKEND_ZEROMQ",
];
const EVENT_SERIALIZERS: Type = Enum(&[
    "Cluster::EVENT_SERIALIZER_BROKER_BIN_V1",
    "Cluster::EVENT_SERIALIZER_BROKER_JSON_V1",
]);
const LOG_SERIALIZERS: Type = Enum(&["Cluster::LOG_SERIALIZER_ZEEK_BIN_V1"]);
const PEER_POLICIES: Type = Enum(&["backpressure", "drop_newest", "drop_oldest", "disconnect"]);
const WS_CLIENT_POLICIES: Type = Enum(&["buffer", "drop"]);
const INBOX_POLICIES: Type = Enum(&["backpressure", "drop_newest", "drop_oldest"]);
const SYNCHRONOUS: Type = Enum(&[
    "Broker::SQLITE_SYNCHRONOUS_OFF",
    "Broker::SQLITE_SYNCHRONOUS_NORMAL",
    "Broker::SQLITE_SYNCHRONOUS_FULL",
    "Broker::SQLITE_SYNCHRONOUS_EXTRA",
]);
const JOURNAL_MODES: Type = Enum(&[
    "Broker::SQLITE_JOURNAL_MODE_DELETE",
    "Broker::SQLITE_JOURNAL_MODE_WAL",
]);

#[rustfmt::skip]
pub(super) const CATALOGUE: &[Spec] = &[
    // Cluster framework (main.zeek).
    opt!(Cluster, "Cluster::default_backend", BACKENDS, "Broker::MEMORY", "Backend of stores created with persistent=F."),
    opt!(Cluster, "Cluster::default_master_node", Str, "", "Node that holds the masters of stores; empty: the manager."),
    opt!(Cluster, "Cluster::default_persistent_backend", BACKENDS, "Broker::SQLITE", "Backend of stores created with persistent=T."),
    opt!(Cluster, "Cluster::default_store_dir", Str, "", "Directory of persistent stores' files; empty: the working directory."),
    opt!(Cluster, "Cluster::enable_round_robin_logging", Bool, "T", "Spread a node's log writes over the loggers round-robin (else the first live logger)."),
    opt!(Cluster, "Cluster::logger_topic", Str, "zeek/cluster/logger", "Topic every logger subscribes to."),
    opt!(Cluster, "Cluster::manager_is_logger", Bool, "T", "Without a logger in the layout, the manager writes the logs."),
    opt!(Cluster, "Cluster::manager_topic", Str, "zeek/cluster/manager", "Topic the manager subscribes to."),
    opt!(Cluster, "Cluster::node", Str, "", "This node's name in the layout (else CLUSTER_NODE)."),
    opt!(Cluster, "Cluster::node_topic_prefix", Str, "zeek/cluster/node/", "Prefix of each node's own topic (prefix + name + /)."),
    opt!(Cluster, "Cluster::nodeid_topic_prefix", Str, "zeek/cluster/nodeid/", "Prefix of each node's endpoint-id topic."),
    opt!(Cluster, "Cluster::proxy_topic", Str, "zeek/cluster/proxy", "Topic every proxy subscribes to."),
    opt!(Cluster, "Cluster::retry_interval", Interval, "1.0 min", "Wait between attempts to peer with a node (ZEEK_DEFAULT_CONNECT_RETRY overrides, in whole seconds)."),
    opt!(Cluster, "Cluster::time_machine_topic", Str, "zeek/cluster/time_machine", "Topic the time machine subscribes to."),
    opt!(Cluster, "Cluster::worker_topic", Str, "zeek/cluster/worker", "Topic every worker subscribes to."),
    // Bro 2.5 event routing patterns (main.bro).
    opt!(Cluster, "Cluster::control_events", Pattern, "Control::.*_request", "Bro 2.5: events the control node sends to every node."),
    opt!(Cluster, "Cluster::manager2logger_events", Pattern, "EMPTY", "Bro 2.5: events the manager forwards to loggers."),
    opt!(Cluster, "Cluster::manager2proxy_events", Pattern, "EMPTY", "Bro 2.5: events the manager forwards to proxies."),
    opt!(Cluster, "Cluster::manager2worker_events", Pattern, "Drop::.*", "Bro 2.5: events the manager forwards to workers."),
    opt!(Cluster, "Cluster::proxy2logger_events", Pattern, "EMPTY", "Bro 2.5: events proxies forward to loggers."),
    opt!(Cluster, "Cluster::proxy2manager_events", Pattern, "EMPTY", "Bro 2.5: events proxies forward to the manager."),
    opt!(Cluster, "Cluster::proxy2worker_events", Pattern, "EMPTY", "Bro 2.5: events proxies forward to workers."),
    opt!(Cluster, "Cluster::tm2manager_events", Pattern, "EMPTY", "Bro 2.5: events the time machine forwards to the manager."),
    opt!(Cluster, "Cluster::tm2worker_events", Pattern, "EMPTY", "Bro 2.5: events the time machine forwards to workers."),
    opt!(Cluster, "Cluster::worker2logger_events", Pattern, "EMPTY", "Bro 2.5: events workers forward to loggers."),
    opt!(Cluster, "Cluster::worker2manager_events", Pattern, "(TimeMachine::command|Drop::.*)", "Bro 2.5: events workers forward to the manager."),
    opt!(Cluster, "Cluster::worker2proxy_events", Pattern, "EMPTY", "Bro 2.5: events workers forward to proxies."),
    // The cluster backend (init-bare.zeek). Zeek's own default is NONE, which its base
    // scripts turn into Broker; loading policy/frameworks/cluster/backend/zeromq (as
    // ZeekControl's zeekctl-config.zeek does) switches to ZeroMQ.
    opt!(Cluster, "Cluster::backend", Enum(CLUSTER_BACKENDS), "Cluster::CLUSTER_BACKEND_BROKER", "Broker peerings or Zeek's ZeroMQ backend (Broker, ZeroMQ)."),
    opt!(Cluster, "Cluster::event_serializer", EVENT_SERIALIZERS, "Cluster::EVENT_SERIALIZER_BROKER_BIN_V1", "Encoding of published events."),
    opt!(Cluster, "Cluster::log_serializer", LOG_SERIALIZERS, "Cluster::LOG_SERIALIZER_ZEEK_BIN_V1", "Encoding of log writes on ZeroMQ."),
    // policy/frameworks/cluster/backend/zeromq/options.zeek, names and defaults as there.
    opt!(Cluster, "Cluster::Backend::ZeroMQ::connect_xpub_endpoint", Str, "tcp://127.0.0.1:5556", "Where a node's XSUB socket connects (the proxy's XPUB)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::connect_xsub_endpoint", Str, "tcp://127.0.0.1:5555", "Where a node's XPUB socket connects (the proxy's XSUB)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::connect_log_endpoints", Str, "", "Loggers' PULL endpoints a node PUSHes logs to (Zeek's vector; comma-separated here)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::run_proxy_thread", Bool, "F", "Run the XPUB/XSUB proxy in this node (default: on the manager)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::proxy_io_threads", Count, "2", "I/O threads of the proxy's ZeroMQ context."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::listen_xsub_endpoint", Str, "tcp://127.0.0.1:5556", "The proxy's XSUB endpoint (nodes' XPUBs connect)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::listen_xpub_endpoint", Str, "tcp://127.0.0.1:5555", "The proxy's XPUB endpoint (nodes' XSUBs connect)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::listen_log_endpoint", Str, "", "A logger's PULL endpoint."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::linger_ms", Int, "500", "ZMQ_LINGER of every socket, in ms (-1: wait forever)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::xpub_sndhwm", Int, "1000", "ZMQ_SNDHWM of the XPUB socket."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::xpub_sndbuf", Int, "-1", "ZMQ_SNDBUF of the XPUB socket (-1: the OS default)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::xsub_rcvhwm", Int, "1000", "ZMQ_RCVHWM of the XSUB socket."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::xsub_rcvbuf", Int, "-1", "ZMQ_RCVBUF of the XSUB socket (-1: the OS default)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::onloop_queue_hwm", Count, "10000", "Zeek's queue bound before the main loop (accepted; zcluster applies the inbox's backpressure instead)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::log_immediate", Bool, "F", "ZMQ_IMMEDIATE of the log PUSH socket."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::log_sndhwm", Int, "1000", "ZMQ_SNDHWM of the log PUSH socket."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::log_rcvhwm", Int, "1000", "ZMQ_RCVHWM of the log PULL socket."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::log_sndbuf", Int, "-1", "ZMQ_SNDBUF of the log PUSH socket."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::log_rcvbuf", Int, "-1", "ZMQ_RCVBUF of the log PULL socket."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::ipv6", Bool, "F", "ZMQ_IPV6 on every socket."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::connect_xpub_nodrop", Bool, "T", "ZMQ_XPUB_NODROP of a node's XPUB socket."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::listen_xpub_nodrop", Bool, "T", "ZMQ_XPUB_NODROP of the proxy's XPUB socket."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::poll_max_messages", Count, "100", "Messages read from one socket before polling the others."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::debug_flags", Count, "0", "Zeek's debug bits (accepted, no effect here)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::curve_server_publickey", Str, "", "CURVE: the proxy's public key (Z85); set with the secret key to encrypt."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::curve_server_secretkey", Str, "", "CURVE: the proxy's secret key (Z85)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::curve_client_publickey", Str, "", "CURVE: the nodes' public key (Z85)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::curve_client_secretkey", Str, "", "CURVE: the nodes' secret key (Z85)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::node_topic_prefix", Str, "zeek.cluster.node", "ZeroMQ's node topic prefix (\".\"-separated)."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::nodeid_topic_prefix", Str, "zeek.cluster.nodeid", "ZeroMQ's node-id topic prefix."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::hello_expiration", Interval, "10.0 secs", "How long a node waits for the hello of a node it saw subscribe."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::internal_topic_prefix", Str, "zeek.zeromq.internal.", "Prefix of the backend's own topics."),
    opt!(Cluster, "Cluster::Backend::ZeroMQ::zc_overflow_policy", Enum(&["backpressure", "drop"]), "backpressure", "zcluster's: a full XPUB makes publishers wait (backpressure, as Broker), or drops and counts (drop, as Zeek)."),
    // Broker's clone timing, the defaults of Cluster::StoreInfo's clone_* fields.
    opt!(Cluster, "Broker::default_clone_resync_interval", Interval, "10.0 secs", "A clone re-requests a snapshot after this long without its master."),
    opt!(Cluster, "Broker::default_clone_stale_interval", Interval, "5.0 mins", "A clone without its master this long stops answering reads."),
    opt!(Cluster, "Broker::default_clone_mutation_buffer_interval", Interval, "2.0 mins", "A clone buffers writes for its absent master this long."),
    // Logging (logging/main.zeek, writers/ascii.zeek, broker/main.zeek).
    opt!(Cluster, "Broker::log_batch_interval", Interval, "1.0 sec", "A log sender flushes a batch at least this often."),
    opt!(Cluster, "Broker::log_batch_size", Count, "400", "A log sender flushes a batch at this many writes."),
    // The write buffer of pluggable cluster backends (ZeroMQ; init-bare.zeek).
    opt!(Cluster, "Log::write_buffer_size", Count, "1000", "On ZeroMQ, a stream's records go out as one log-write batch at this many."),
    opt!(Cluster, "Log::flush_interval", Interval, "1.0 sec", "On ZeroMQ, a stream's buffered records go out at least this often."),
    opt!(Cluster, "Log::default_rotation_dir", Str, "", "Directory rotated logs move to; empty: beside the log."),
    opt!(Cluster, "Log::default_rotation_interval", Interval, "0 secs", "Rotate logs this often (0: never)."),
    opt!(Cluster, "Log::default_rotation_postprocessor_cmd", Str, "", "Shell command run on each rotated log."),
    opt!(Cluster, "LogAscii::use_json", Bool, "F", "Loggers write JSON lines instead of Zeek's TSV."),
    // Telemetry (telemetry/options.zeek). In a cluster the port comes from the node's
    // $metrics_port and the endpoint name is Cluster::node.
    opt!(Cluster, "Telemetry::metrics_port", Port, "0/unknown", "Port of the Prometheus endpoint (0: none, unless the layout's $metrics_port)."),
    opt!(Cluster, "Telemetry::metrics_address", Str, "", "Address the Prometheus endpoint listens on; empty: the node's address."),
    opt!(Cluster, "Telemetry::metrics_endpoint_name", Str, "", "The endpoint label of the metrics; empty: the node's name."),
    // A peering's send buffer (broker/main.zeek; Zeek's defaults 2048 and "disconnect"),
    // for the node's endpoint; "disconnect" is counted in
    // zeek_broker_backpressure_disconnects_total.
    opt!(Cluster, "Broker::peer_buffer_size", Count, "65536", "Messages queued for one peer."),
    opt!(Cluster, "Broker::peer_overflow_policy", PEER_POLICIES, "backpressure", "What a full peer queue does: wait, drop (counted) or disconnect the peer (Broker's default)."),
    // WebSocketServerOptions' defaults (cluster/types.zeek).
    opt!(Cluster, "Cluster::default_websocket_max_event_queue_size", Count, "32", "Default max_event_queue_size of WebSocket servers."),
    opt!(Cluster, "Cluster::default_websocket_ping_interval", Interval, "5.0 secs", "Default ping_interval of WebSocket servers."),
    // TLS of the peerings (broker/main.zeek); see endpoint::TlsOptions.
    opt!(Cluster, "Broker::disable_ssl", Bool, "F", "Plain TCP peerings instead of TLS."),
    opt!(Cluster, "Broker::ssl_cafile", Str, "", "CA file that authenticates peers; with a certificate, TLS is authenticated."),
    opt!(Cluster, "Broker::ssl_capath", Str, "", "CA directory (hashed) that authenticates peers."),
    opt!(Cluster, "Broker::ssl_certificate", Str, "", "This node's certificate (PEM)."),
    opt!(Cluster, "Broker::ssl_keyfile", Str, "", "This node's private key (PEM)."),
    opt!(Cluster, "Broker::ssl_passphrase", Str, "", "Passphrase of the private key."),

    // Endpoint (zc_endpoint_options_set): Zeek's names where it has them, Broker's keys,
    // ours.
    opt!(Endpoint, "Broker::forward_messages" | "forwarding", Bool, "T", "Relay messages between peers and propagate subscriptions (Zeek's cluster nodes: F)."),
    opt!(Endpoint, "broker.ttl" | "ttl", Count, "16", "Hop limit of published messages (1-65535)."),
    opt!(Endpoint, "Broker::peer_buffer_size" | "peer_buffer_size", Count, "65536", "Messages queued for one peer."),
    opt!(Endpoint, "Broker::peer_overflow_policy" | "peer_overflow_policy", PEER_POLICIES, "backpressure", "What a full peer queue does: wait, drop (counted) or disconnect the peer (Broker's default)."),
    opt!(Endpoint, "inbox_capacity", Count, "65536", "Events and commands waiting for the host."),
    opt!(Endpoint, "inbox_overflow_policy", INBOX_POLICIES, "backpressure", "What a full inbox does: wait, or drop (counted)."),
    opt!(Endpoint, "publish_queue", Count, "65536", "Publishes queued for the I/O thread before publish waits."),
    opt!(Endpoint, "backpressure_timeout", Interval, "5.0 secs", "How long publish waits for room before WouldBlock."),
    opt!(Endpoint, "max_frame", Count, "16777216", "Largest accepted frame, in bytes (at least 64)."),
    opt!(Endpoint, "handshake_timeout", Interval, "10.0 secs", "A connection must finish Broker's handshake within this."),
    opt!(Endpoint, "unpeer_timeout", Interval, "3.0 secs", "Wait this long for the goodbye after unpeer."),
    opt!(Endpoint, "shutdown_timeout", Interval, "2.0 secs", "On close, flush outgoing data for at most this long."),
    opt!(Endpoint, "id", Str, "", "A fixed endpoint id (UUID text); empty: a random one."),
    opt!(Endpoint, "validate_data", Bool, "T", "Check every incoming payload decodes; a bad one is dropped and reported."),
    opt!(Endpoint, "Broker::disable_ssl" | "broker.disable-ssl", Bool, "F", "Plain TCP instead of TLS."),
    opt!(Endpoint, "Broker::ssl_cafile" | "broker.ssl.cafile", Str, "", "CA file that authenticates peers."),
    opt!(Endpoint, "Broker::ssl_capath" | "broker.ssl.capath", Str, "", "CA directory (hashed) that authenticates peers."),
    opt!(Endpoint, "Broker::ssl_certificate" | "broker.ssl.certificate", Str, "", "This endpoint's certificate (PEM)."),
    opt!(Endpoint, "Broker::ssl_keyfile" | "broker.ssl.key", Str, "", "This endpoint's private key (PEM)."),
    opt!(Endpoint, "Broker::ssl_passphrase" | "broker.ssl.passphrase", Str, "", "Passphrase of the private key."),

    // Cluster::WebSocketServerOptions (cluster/types.zeek), plus ours.
    opt!(WebSocket, "listen_addr" | "listen_host", Addr, "127.0.0.1", "Address the server listens on."),
    opt!(WebSocket, "listen_port", Port, "27759/tcp", "Port the server listens on (0: a free one)."),
    opt!(WebSocket, "max_event_queue_size", Count, "32", "A client's messages waiting to be published before the server stops reading it."),
    opt!(WebSocket, "ping_interval", Interval, "5.0 secs", "Pings to idle clients this often (0 or negative: none)."),
    opt!(WebSocket, "send_queue_size", Count, "16384", "zcluster's: messages waiting for one client before it is closed as too slow."),
    opt!(WebSocket, "tls_options$cert_file" | "cert_file", Str, "", "Certificate of wss:// (PEM)."),
    opt!(WebSocket, "tls_options$key_file" | "key_file", Str, "", "Private key of wss:// (PEM)."),
    opt!(WebSocket, "tls_options$enable_peer_verification" | "enable_peer_verification", Bool, "F", "wss://: clients must present a certificate that verifies against ca_file."),
    opt!(WebSocket, "tls_options$ca_file" | "ca_file", Str, "", "wss:// peer verification: trusted CAs (PEM); empty: the system's; NONE: no verification."),
    opt!(WebSocket, "tls_options$ciphers" | "ciphers", Str, "", "wss://: OpenSSL cipher list; empty: OpenSSL's defaults."),

    // The WebSocket client transport (Endpoint::connect_websocket): zcluster's.
    opt!(WebSocketClient, "application_name" | "app_name", Str, "zcluster", "X-Application-Name sent with the upgrade ([-/_.=:*@a-zA-Z0-9]+)."),
    opt!(WebSocketClient, "verify_peer", Bool, "T", "wss://: verify the server's certificate and host name."),
    opt!(WebSocketClient, "ca_file", Str, "", "wss://: trusted CA certificates (PEM); with ca_path empty too: the system's."),
    opt!(WebSocketClient, "ca_path", Str, "", "wss://: a directory of hashed CA certificates (openssl rehash)."),
    opt!(WebSocketClient, "cert_file", Str, "", "wss://: a client certificate chain (PEM), for servers that verify peers."),
    opt!(WebSocketClient, "key_file", Str, "", "wss://: the client certificate's private key (PEM)."),
    opt!(WebSocketClient, "ciphers", Str, "", "wss://: OpenSSL cipher list (TLS 1.2); empty: OpenSSL's defaults."),
    opt!(WebSocketClient, "send_queue_size", Count, "65536", "Publishes queued for the server at most, connected or not; then publish waits up to the endpoint's backpressure_timeout and fails with WouldBlock."),
    opt!(WebSocketClient, "disconnected_policy", WS_CLIENT_POLICIES, "buffer", "Publishes made while not connected: buffer (queued, sent in order once connected) or drop (dropped and counted)."),

    // Cluster::StoreInfo's fields (cluster/main.zeek); defaults from the cluster options.
    opt!(Store, "backend", BACKENDS, "Broker::MEMORY", "The store's backend (default: Cluster::default_backend or default_persistent_backend)."),
    opt!(Store, "master_node", Str, "", "Node of the store's master (default: Cluster::default_master_node, else the manager)."),
    opt!(Store, "clone_resync_interval", Interval, "10.0 secs", "Default: Broker::default_clone_resync_interval."),
    opt!(Store, "clone_stale_interval", Interval, "5.0 mins", "Default: Broker::default_clone_stale_interval."),
    opt!(Store, "clone_mutation_buffer_interval", Interval, "2.0 mins", "Default: Broker::default_clone_mutation_buffer_interval."),

    // Broker::BackendOptions (broker/store.zeek): SQLite.
    opt!(Backend, "path", Str, "", "The SQLite file; empty: <store name>.sqlite (in Cluster::default_store_dir for cluster stores)."),
    opt!(Backend, "synchronous", SYNCHRONOUS, "Broker::SQLITE_SYNCHRONOUS_FULL", "SQLite's PRAGMA synchronous (OFF, NORMAL, FULL, EXTRA)."),
    opt!(Backend, "journal_mode", JOURNAL_MODES, "Broker::SQLITE_JOURNAL_MODE_WAL", "SQLite's journal mode (DELETE, WAL)."),
    opt!(Backend, "integrity_check", Bool, "F", "Run PRAGMA integrity_check when opening the file."),
    opt!(Backend, "zc_storage_nice", Count, "10", "zcluster's: niceness added to the store's storage (commit) thread, 0-19, so commits yield the CPU to the I/O threads; 0: none."),
    opt!(Backend, "zc_storage_idle", Bool, "T", "zcluster's: the store's storage (commit) thread runs under SCHED_IDLE, so any waking thread (an I/O thread carrying round trips) preempts it at once; it still runs on a busy machine, and host puts wait once 65,536 writes are queued. F: only zc_storage_nice."),
];
