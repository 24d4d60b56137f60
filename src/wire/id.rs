//! Endpoint ids: 16-byte random (version 4) UUIDs, compared as raw bytes.

use std::fmt;
use std::io::Read;

/// An endpoint's id. The all-zero id is "nil" (broadcast receiver in envelopes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EndpointId(pub [u8; 16]);

impl EndpointId {
    pub const NIL: EndpointId = EndpointId([0; 16]);

    /// A fresh version-4 UUID from the operating system's random source.
    pub fn random() -> crate::Result<EndpointId> {
        let mut b = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut b))
            .map_err(|e| {
                crate::Error::new(crate::ErrorKind::Io, format!("reading /dev/urandom: {e}"))
            })?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Ok(EndpointId(b))
    }

    pub fn is_nil(&self) -> bool {
        self.0 == [0; 16]
    }

    /// Parses the text form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (case-insensitive).
    pub fn parse(s: &str) -> crate::Result<EndpointId> {
        let bad = || {
            crate::Error::invalid(format!("'{s}' is not an endpoint id (expected a UUID like 5746d8ee-3644-5bd2-9f54-d5a44c26c2a1)"))
        };
        let b = s.as_bytes();
        if b.len() != 36 {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        let mut n = 0;
        let mut i = 0;
        while i < 36 {
            if matches!(i, 8 | 13 | 18 | 23) {
                if b[i] != b'-' {
                    return Err(bad());
                }
                i += 1;
                continue;
            }
            let hi = (b[i] as char).to_digit(16).ok_or_else(bad)?;
            let lo = (b[i + 1] as char).to_digit(16).ok_or_else(bad)?;
            out[n] = (hi * 16 + lo) as u8;
            n += 1;
            i += 2;
        }
        Ok(EndpointId(out))
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let id = EndpointId::parse("5746d8ee-3644-5bd2-9f54-d5a44c26c2a1").unwrap();
        assert_eq!(id.0[0], 0x57);
        assert_eq!(id.0[15], 0xa1);
        assert_eq!(id.to_string(), "5746d8ee-3644-5bd2-9f54-d5a44c26c2a1");
        assert!(EndpointId::parse("5746d8ee-3644-5bd2-9f54-d5a44c26c2a").is_err());
        assert!(EndpointId::parse("5746d8ee+3644-5bd2-9f54-d5a44c26c2a1").is_err());
        assert!(EndpointId::parse("5746d8ee-3644-5bd2-9f54-d5a44c26c2ag").is_err());
    }

    #[test]
    fn random_ids_are_v4_and_distinct() {
        let a = EndpointId::random().unwrap();
        let b = EndpointId::random().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.0[6] >> 4, 4);
        assert_eq!(a.0[8] >> 6, 2);
        assert!(!a.is_nil());
        assert!(EndpointId::NIL.is_nil());
    }
}
