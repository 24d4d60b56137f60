//! A small, strict JSON reader and writer of our own (RFC 8259), used by the layout's JSON
//! form and by Broker's WebSocket JSON encoding. Numbers keep their text so that u64 and i64
//! survive exactly.
