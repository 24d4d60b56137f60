//! Cluster layouts: `cluster-layout.zeek`, the legacy `cluster-layout.bro`, ZeekControl's
//! `node.cfg`, and a JSON form, all parsed into one `Layout`.
