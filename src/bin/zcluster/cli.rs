//! The command line (clap). Every subcommand has its own `--help`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const EXIT_CODES: &str = "\
EXIT CODES:
  0  success
  1  failure (I/O, protocol error, a node that failed)
  2  bad command line
  3  bad input: malformed layout, literal, JSON value or option
  4  a peer could not be reached, or the connection was lost
  5  the --timeout ran out first (fewer than --count events, no subscriber)
  6  not found (node, store key, cluster directory, file)
  7  not supported by this build (store and status over ws:// or wss://)

Errors go to stderr as `zcluster: <message>`; results go to stdout.";

const LITERALS: &str = "\
ARGUMENTS (of events, and store keys and values) are plain literals or Broker JSON:
  42 (count)  -5 (integer)  1.5 (real)  T / F / true / false (bool)
  \"text\" (string; quote it for the shell: '\"text\"')  10.0.0.1  ::1 (address)
  10.0.0.0/8 (subnet)  80/tcp (port)  5s  250ms (timespan)  Foo::BAR (enum)
  '{\"@data-type\":\"vector\",\"data\":[...]}' (any Broker value as Broker JSON)
A bare word that is none of these is refused (exit 3): quote strings.";

#[derive(Parser, Debug)]
#[command(
    name = "zcluster",
    version,
    about = "Run and poke at a Zeek cluster: nodes, layouts, topics, stores",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run one node of a layout (prints JSON lines: started, statuses, node_up/down, events)
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Start every node of a layout on this machine as child processes; status; stop
    #[command(after_help = EXIT_CODES)]
    Cluster(ClusterArgs),
    /// Check, show or convert a layout (cluster-layout.zeek, .bro, node.cfg, JSON)
    #[command(after_help = EXIT_CODES)]
    Layout(LayoutArgs),
    /// Publish an event (or JSON lines from stdin) to a node
    #[command(after_help = format!("{LITERALS}\n\n{EXIT_CODES}"))]
    Publish(PublishArgs),
    /// Subscribe to topic prefixes at a node and print events as JSON lines
    #[command(after_help = EXIT_CODES)]
    Subscribe(SubscribeArgs),
    /// Read and write a data store's master through a clone (get, put, erase, keys, size)
    #[command(after_help = format!("{LITERALS}\n\n{EXIT_CODES}"))]
    Store(StoreArgs),
    /// A node's peers, subscriptions, counters and store sizes (Zeek's Control framework)
    #[command(after_help = EXIT_CODES)]
    Status(StatusArgs),
    /// Run Zeek's ZeroMQ XPUB/XSUB proxy alone (what the manager runs unless
    /// `Cluster::Backend::ZeroMQ::run_proxy_thread = F`), until Ctrl-C or SIGTERM
    #[command(name = "zeromq-proxy", after_help = EXIT_CODES)]
    ZeromqProxy(ZeromqProxyArgs),
    /// Every option the library accepts (name, type, default, doc); check a value
    #[command(after_help = EXIT_CODES)]
    Options(OptionsArgs),
}

#[derive(Args, Debug)]
pub struct ZeromqProxyArgs {
    /// A layout (file or ZeekControl directory) whose
    /// `Cluster::Backend::ZeroMQ::listen_*` and CURVE options to use
    #[arg(long)]
    pub layout: Option<PathBuf>,
    /// The XPUB endpoint to bind (default: the layout's `listen_xpub_endpoint`, Zeek's
    /// tcp://127.0.0.1:5555)
    #[arg(long)]
    pub xpub: Option<String>,
    /// The XSUB endpoint to bind (default: the layout's `listen_xsub_endpoint`, Zeek's
    /// tcp://127.0.0.1:5556)
    #[arg(long)]
    pub xsub: Option<String>,
}

#[derive(Args, Debug)]
pub struct OptionsArgs {
    /// Only the options of this scope: cluster, endpoint, websocket, store or backend
    #[arg(long)]
    pub scope: Option<String>,
    /// Print docs/options.md (Markdown) instead of the listing
    #[arg(long, conflicts_with_all = ["name", "value"])]
    pub markdown: bool,
    /// Show this option (by name or alias) only
    pub name: Option<String>,
    /// Parse VALUE as the option would and print it as Zeek does (exit 3 if it does not parse)
    pub value: Option<String>,
}

#[derive(Args, Debug)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub action: StoreAction,
}

#[derive(Subcommand, Debug)]
pub enum StoreAction {
    /// Print a key's value as Broker JSON (exit 6 if the key is absent)
    #[command(after_help = format!("{LITERALS}\n\n{EXIT_CODES}"))]
    Get(StoreKeyArgs),
    /// Set a key; returns once the master has applied it
    #[command(after_help = format!("{LITERALS}\n\n{EXIT_CODES}"))]
    Put(StorePutArgs),
    /// Remove a key; returns once the master has applied it (exit 6 if it was absent)
    #[command(after_help = format!("{LITERALS}\n\n{EXIT_CODES}"))]
    Erase(StoreKeyArgs),
    /// Print every key, one Broker JSON value per line
    #[command(after_help = EXIT_CODES)]
    Keys(StoreNameArgs),
    /// Print the number of keys
    #[command(after_help = EXIT_CODES)]
    Size(StoreNameArgs),
}

#[derive(Args, Debug)]
pub struct StoreNameArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// The store's name; --to names the node holding its master (the manager)
    pub store: String,
}

#[derive(Args, Debug)]
pub struct StoreKeyArgs {
    #[command(flatten)]
    pub store: StoreNameArgs,
    /// The key (a literal or Broker JSON)
    #[arg(allow_negative_numbers = true)]
    pub key: String,
}

#[derive(Args, Debug)]
pub struct StorePutArgs {
    #[command(flatten)]
    pub store: StoreNameArgs,
    /// The key (a literal or Broker JSON)
    #[arg(allow_negative_numbers = true)]
    pub key: String,
    /// The value (a literal or Broker JSON)
    #[arg(allow_negative_numbers = true)]
    pub value: String,
    /// Seconds until the master expires the key
    #[arg(long, allow_negative_numbers = true)]
    pub expiry: Option<f64>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The layout (cluster-layout.zeek, .bro, node.cfg or .json)
    #[arg(long)]
    pub layout: PathBuf,
    /// The node to run (default: $CLUSTER_NODE)
    #[arg(long)]
    pub node: Option<String>,
    /// Directory for the logs this node writes (cluster.log on a logger); default "."
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also print received events as JSON lines
    #[arg(long)]
    pub events: bool,
    /// Subscribe to this topic prefix as well (repeatable; implies --events)
    #[arg(long = "subscribe", value_name = "PREFIX")]
    pub subscribe: Vec<String>,
    /// Create this data store (`Cluster::create_store`, in memory): the master on the
    /// manager, a clone elsewhere (repeatable)
    #[arg(long = "store", value_name = "NAME")]
    pub stores: Vec<String>,
    /// Set a cluster option over the layout's redefs, e.g.
    /// `--option Cluster::retry_interval=2secs` (repeatable; `zcluster options` lists them)
    #[arg(long = "option", short = 'o', value_name = "NAME=VALUE")]
    pub options: Vec<String>,
    /// Internal: the demo's scripted node (zcluster cluster demo)
    #[arg(long, hide = true)]
    pub demo: bool,
}

#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub action: ClusterAction,
}

#[derive(Subcommand, Debug)]
pub enum ClusterAction {
    /// Start every node (one `zcluster run` child each); in the foreground until Ctrl-C
    /// or SIGTERM, or with --detach in the background
    #[command(after_help = EXIT_CODES)]
    Start(ClusterStartArgs),
    /// Show each node of a cluster started with --dir DIR: pid, port, running or not
    /// (exit 4 when a node is not running)
    #[command(after_help = EXIT_CODES)]
    Status(ClusterDirArgs),
    /// Stop a cluster started with --dir DIR (SIGTERM, then SIGKILL after --grace)
    #[command(after_help = EXIT_CODES)]
    Stop(ClusterStopArgs),
    /// The demo: the embedded default layout (logger, manager, proxy, two workers) on free
    /// loopback ports, events through a topic and a pool, a worker killed and seen down
    #[command(after_help = EXIT_CODES)]
    Demo(DemoArgs),
}

#[derive(Args, Debug)]
pub struct ClusterStartArgs {
    /// The layout; default: the embedded default layout on free loopback ports
    #[arg(long)]
    pub layout: Option<PathBuf>,
    /// State directory: cluster.json (pids), each node's output (<node>.out), the logs
    #[arg(long, default_value = "zcluster-cluster")]
    pub dir: PathBuf,
    /// Return once every node listens, leaving the nodes running
    #[arg(long)]
    pub detach: bool,
    /// Seconds to wait for every node to listen
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Run the nodes with --events (their output shows every event they receive)
    #[arg(long)]
    pub events: bool,
    /// Run the nodes with --store NAME (repeatable)
    #[arg(long = "store", value_name = "NAME")]
    pub stores: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ClusterDirArgs {
    /// The state directory given to `cluster start`
    #[arg(long, default_value = "zcluster-cluster")]
    pub dir: PathBuf,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ClusterStopArgs {
    /// The state directory given to `cluster start`
    #[arg(long, default_value = "zcluster-cluster")]
    pub dir: PathBuf,
    /// Seconds to wait after SIGTERM before SIGKILL
    #[arg(long, default_value_t = 10.0)]
    pub grace: f64,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo's layout and cluster.log in DIR (default: a temporary directory)
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LayoutArgs {
    #[command(subcommand)]
    pub action: LayoutAction,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LayoutFormat {
    Zeek,
    Bro,
    #[value(name = "node.cfg", alias = "nodecfg", alias = "cfg")]
    NodeCfg,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum LayoutAction {
    /// Validate a layout; errors name file:line:column (exit 3)
    #[command(after_help = EXIT_CODES)]
    Check(LayoutFileArgs),
    /// Print the nodes as a table (or JSON with --json)
    #[command(after_help = EXIT_CODES)]
    Show(LayoutShowArgs),
    /// Convert between node.cfg, .zeek, .bro and JSON; node.cfg becomes
    /// cluster-layout.zeek exactly as ZeekControl writes it
    #[command(after_help = EXIT_CODES)]
    Convert(LayoutConvertArgs),
}

#[derive(Args, Debug)]
pub struct LayoutFileArgs {
    pub file: PathBuf,
    /// Read the file as this format (default: from its name, else its content)
    #[arg(long)]
    pub from: Option<LayoutFormat>,
}

#[derive(Args, Debug)]
pub struct LayoutShowArgs {
    #[command(flatten)]
    pub input: LayoutFileArgs,
    /// JSON (the layout's JSON form) instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LayoutConvertArgs {
    #[command(flatten)]
    pub input: LayoutFileArgs,
    /// The output format
    #[arg(long)]
    pub to: LayoutFormat,
    /// Write here instead of stdout
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// node.cfg input: zeekctl's ZeekPort (the first port; ZeroMQ takes two first)
    #[arg(long, default_value_t = 27760)]
    pub zeek_port: u16,
    /// node.cfg input: zeekctl's MetricsPort (0: no metrics ports)
    #[arg(long, default_value_t = 9991)]
    pub metrics_port: u16,
    /// node.cfg input: zeekctl's ClusterBackend (ZeroMQ, zeekctl's default, or Broker)
    #[arg(long, default_value = "ZeroMQ")]
    pub cluster_backend: String,
    /// node.cfg input to .zeek: zeekctl's UseWebSocket=0 (no WebSocket zeek_init block)
    #[arg(long)]
    pub no_websocket: bool,
    /// node.cfg input to .zeek: zeekctl's WebSocketHost and WebSocketPort
    #[arg(long, default_value = "127.0.0.1:27759", value_name = "HOST:PORT")]
    pub websocket: String,
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The node: HOST:PORT (Broker peering) or ws://HOST:PORT/v1/messages/json (Zeek's
    /// WebSocket API; publish and subscribe only)
    #[arg(long, value_name = "HOST:PORT|URL")]
    pub to: String,
    /// Seconds to wait: for the connection and a subscriber (default 10); subscribe:
    /// the whole run (exit 5 if fewer than --count events came; default: no limit)
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
}

#[derive(Args, Debug)]
pub struct PublishArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// Topic to publish on
    pub topic: String,
    /// Event name; without it, JSON lines are read from stdin: Zeek WebSocket data
    /// messages ({"type":"data-message","topic":..,"@data-type":..,"data":..}), as
    /// `zcluster subscribe` prints them
    pub event: Option<String>,
    /// The event's arguments (literals or Broker JSON, see below)
    #[arg(allow_negative_numbers = true)]
    pub args: Vec<String>,
    /// Publish the event N times
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Publish even when the peer does not subscribe to the topic (it is then dropped)
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Args, Debug)]
pub struct SubscribeArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// Topic prefixes
    #[arg(required = true)]
    pub prefixes: Vec<String>,
    /// Exit after N events (exit 5 if the --timeout runs out first)
    #[arg(long)]
    pub count: Option<u64>,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// Also report this store's size (repeatable; read through a clone)
    #[arg(long = "store", value_name = "NAME")]
    pub stores: Vec<String>,
    /// JSON instead of text
    #[arg(long)]
    pub json: bool,
}
