//! Zeek's WebSocket API (`/v1/messages/json`, Zeek 7.2+): the server a node runs
//! (`server`, `Cluster::listen_websocket`), the client transport of an endpoint
//! (`client`, `Endpoint::connect_websocket`) and the protocol's messages (`protocol`).

pub mod client;
pub(crate) mod fastjson;
pub mod protocol;
pub mod server;
pub mod tls;

pub use server::{ServerOptions, WebSocketServer, CLIENT_ADDED_EVENT, CLIENT_LOST_EVENT};
pub use tls::{ClientOptions, ServerTls};
