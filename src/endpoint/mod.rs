//! The Broker-level endpoint: one mio I/O thread, peering, topic routing, delivery to the host.
