//! Zeek's WebSocket API messages (`Z:src/cluster/websocket/WebSocket.cc`), sans I/O.

use crate::data::json::{data_message_from_json, data_message_to_json, write_broker_string};
use crate::data::{bin, Event};

/// The only path Zeek's server serves.
pub const PATH: &str = "/v1/messages/json";
/// Close code for a bad URI or application name (policy violation).
pub const CLOSE_POLICY: u16 = 1008;
/// Close code when the server shuts down ("Terminating").
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// What we put in the ack's `version` (Zeek puts `zeek_version()`).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-zcluster");

/// `{"type":"error","code":..,"context":..}`, as `WebSocketClient::SendError`.
pub fn error_json(code: &str, context: &str) -> String {
    let mut o = String::with_capacity(48 + code.len() + context.len());
    o.push_str("{\"type\":\"error\",\"code\":");
    write_broker_string(&mut o, code.as_bytes());
    o.push_str(",\"context\":");
    write_broker_string(&mut o, context.as_bytes());
    o.push('}');
    o
}

/// `{"type":"ack","endpoint":..,"version":..}`, as `WebSocketClient::SendAck`.
pub fn ack_json(endpoint: &str, version: &str) -> String {
    let mut o = String::with_capacity(48 + endpoint.len() + version.len());
    o.push_str("{\"type\":\"ack\",\"endpoint\":");
    write_broker_string(&mut o, endpoint.as_bytes());
    o.push_str(",\"version\":");
    write_broker_string(&mut o, version.as_bytes());
    o.push('}');
    o
}

/// Zeek's check of `X-Application-Name`: `[-/_.=:*@a-zA-Z0-9]+` (an absent header is
/// "unknown", which passes).
pub fn good_application_name(name: &str) -> bool {
    name.bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"/_-.=:*@".contains(&c))
}

/// The first client frame: a JSON array of topic-prefix strings. The error is the
/// context Zeek sends with `deserialization_failed`.
pub fn parse_subscriptions(text: &str) -> Result<Vec<String>, &'static str> {
    let j = crate::json::parse(text).map_err(|_| "subscriptions not an array")?;
    let arr = j.as_array().ok_or("subscriptions not an array")?;
    arr.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or("individual subscription not a string")
        })
        .collect()
}

/// A client's data message: (topic, Broker-encoded event payload), or the error context
/// Zeek sends with `deserialization_failed`.
pub fn decode_client_message(text: &str) -> Result<(String, Vec<u8>), &'static str> {
    // The common shape without building a JSON tree and a value (`fastjson`); an event
    // that is not well-formed goes the general way, which words the error.
    if let Some((topic, payload)) = super::fastjson::data_message_to_bin(text) {
        if !topic.is_empty()
            && topic != crate::wire::INTERNAL_TOPIC
            && Event::from_bytes(&payload).is_ok()
        {
            return Ok((topic, payload));
        }
    }
    let m = data_message_from_json(text).map_err(|_| "failed to decode JSON object")?;
    if m.topic.is_empty() || m.topic == crate::wire::INTERNAL_TOPIC {
        return Err("no topic in top-level JSON object");
    }
    // Zeek builds a typed event here (the handler must be declared on the hosting node);
    // zcluster has no script layer, so it checks the event's shape: [1, 1, [name, args,
    // metadata?]].
    let ev = Event::from_value(&m.value).map_err(|_| "failed to create Zeek event")?;
    let mut payload = Vec::with_capacity(64);
    if bin::try_encode(&m.value, &mut payload).is_err() {
        return Err("failed to create Zeek event");
    }
    drop(ev);
    Ok((m.topic, payload))
}

/// A cluster data message for a client, or None if the payload does not decode.
pub fn encode_server_message(topic: &str, payload: &[u8]) -> Option<String> {
    let v = bin::decode(payload).ok()?;
    Some(data_message_to_json(topic, &v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(
            error_json("invalid_uri", "Invalid URI - use /v1/messages/json"),
            r#"{"type":"error","code":"invalid_uri","context":"Invalid URI - use /v1/messages/json"}"#
        );
        assert_eq!(
            ack_json("x-websocket-0", "8.0.0"),
            r#"{"type":"ack","endpoint":"x-websocket-0","version":"8.0.0"}"#
        );
        assert!(good_application_name("zeekctl/8.1.0"));
        assert!(!good_application_name("bad name"));
        assert_eq!(parse_subscriptions("[]"), Ok(vec![]));
        assert_eq!(parse_subscriptions("{}"), Err("subscriptions not an array"));
        assert_eq!(
            parse_subscriptions("nope"),
            Err("subscriptions not an array")
        );
        assert_eq!(
            parse_subscriptions("[\"a\", 1]"),
            Err("individual subscription not a string")
        );
        assert_eq!(
            decode_client_message("{"),
            Err("failed to decode JSON object")
        );
        let ev = r#"{"type":"data-message","topic":"t","@data-type":"vector","data":[{"@data-type":"count","data":1},{"@data-type":"count","data":1},{"@data-type":"vector","data":[{"@data-type":"string","data":"e"},{"@data-type":"vector","data":[]}]}]}"#;
        let (t, p) = decode_client_message(ev).unwrap();
        assert_eq!(t, "t");
        assert_eq!(encode_server_message("t", &p).unwrap(), ev);
        let no_topic = ev.replace(r#""topic":"t","#, "");
        assert_eq!(
            decode_client_message(&no_topic),
            Err("no topic in top-level JSON object")
        );
        let not_event = r#"{"type":"data-message","topic":"t","@data-type":"count","data":1}"#;
        assert_eq!(
            decode_client_message(not_event),
            Err("failed to create Zeek event")
        );
    }
}
