//! Broker's native peer protocol (version 1, Broker 2.3+): framing, handshake, envelopes.
