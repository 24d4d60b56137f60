//! Topic filters: sets of byte-string prefixes, on the wire as a varbyte count followed by
//! varbyte-length-prefixed strings.

use super::{read_varbyte, write_varbyte};
use crate::{Error, Result};

/// A filter as the wire carries it. Matching is plain byte-prefix matching, as Broker's.
pub type Filter = Vec<String>;

/// True if `topic` starts with any prefix of `filter`.
pub fn filter_matches(filter: &[String], topic: &str) -> bool {
    filter
        .iter()
        .any(|p| topic.as_bytes().starts_with(p.as_bytes()))
}

/// Sorted and minimal: a prefix covered by a shorter one is left out (Broker's
/// `filter_extend`), so equal subscription sets compare equal.
pub fn normalize(mut f: Filter) -> Filter {
    f.sort();
    f.dedup();
    let mut out: Filter = Vec::with_capacity(f.len());
    for t in f {
        // Sorted order puts a prefix right before the entries it covers.
        if !out.iter().any(|p| t.starts_with(p.as_str())) {
            out.push(t);
        }
    }
    out
}

pub fn encode_filter(f: &[String], out: &mut Vec<u8>) {
    write_varbyte(f.len() as u32, out);
    for t in f {
        write_varbyte(t.len() as u32, out);
        out.extend_from_slice(t.as_bytes());
    }
}

/// Decodes a filter that must span all of `buf`.
pub fn decode_filter(buf: &[u8]) -> Result<Filter> {
    let (n, mut pos) =
        read_varbyte(buf).ok_or_else(|| Error::decode("filter: bad element count"))?;
    // Each entry takes at least one byte, which bounds the allocation by the input.
    if n as usize > buf.len() {
        return Err(Error::decode(format!(
            "filter: count {n} exceeds the {} bytes available",
            buf.len()
        )));
    }
    let mut f = Vec::with_capacity(n as usize);
    for i in 0..n {
        let (len, used) = read_varbyte(&buf[pos..])
            .ok_or_else(|| Error::decode(format!("filter: bad length of entry {i}")))?;
        pos += used;
        let end = pos
            .checked_add(len as usize)
            .filter(|&e| e <= buf.len())
            .ok_or_else(|| Error::decode(format!("filter: entry {i} runs past the end")))?;
        let s = std::str::from_utf8(&buf[pos..end])
            .map_err(|_| Error::decode(format!("filter: entry {i} is not UTF-8")))?;
        f.push(s.to_string());
        pos = end;
    }
    if pos != buf.len() {
        return Err(Error::decode(format!(
            "filter: {} trailing bytes",
            buf.len() - pos
        )));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        let f = vec!["/foo/bar".to_string(), "/test".to_string()];
        let mut b = Vec::new();
        encode_filter(&f, &mut b);
        assert_eq!(b[0], 2);
        assert_eq!(b[1], 8);
        assert_eq!(&b[2..10], b"/foo/bar");
        assert_eq!(decode_filter(&b).unwrap(), f);
        assert!(decode_filter(&b[..b.len() - 1]).is_err());
        let mut t = b.clone();
        t.push(0);
        assert!(decode_filter(&t).is_err());
        assert!(decode_filter(&[0xff, 0xff, 0xff, 0x0f]).is_err());
        assert_eq!(decode_filter(&[0]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn normalize_and_match() {
        let f = normalize(vec![
            "a/b".into(),
            "a".into(),
            "c/d".into(),
            "c/d".into(),
            "c/de".into(),
        ]);
        assert_eq!(f, vec!["a".to_string(), "c/d".to_string()]);
        assert!(filter_matches(&f, "alice"));
        assert!(filter_matches(&f, "c/dx"));
        assert!(!filter_matches(&f, "c/"));
    }
}
