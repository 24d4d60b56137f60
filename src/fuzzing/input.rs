//! Structured input for targets that take more than one byte string (multipart messages,
//! a sequence of operations): a reader that never fails (missing bytes read as zero or
//! empty), and the writer seeds are built with.

/// Reads a fuzz input as a sequence of small fields.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// Little-endian; missing bytes are zero.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.u8()) | (u16::from(self.u8()) << 8)
    }

    /// Up to `n` bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }

    /// A byte string with a u16 length prefix.
    pub fn bytes(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.take(n)
    }

    /// What is left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(usize::MAX)
    }

    /// The rest as length-prefixed byte strings (a multipart message), at most `max`.
    pub fn parts(&mut self, max: usize) -> Vec<&'a [u8]> {
        let mut v = Vec::new();
        while !self.is_empty() && v.len() < max {
            v.push(self.bytes());
        }
        v
    }
}

/// Builds inputs in the shape `Input` reads.
#[derive(Default)]
pub(crate) struct Out(pub(crate) Vec<u8>);

impl Out {
    pub(crate) fn u8(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }
    pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        let n = u16::try_from(b.len()).expect("a seed part fits a u16 length");
        self.u16(n);
        self.0.extend_from_slice(b);
        self
    }
    pub(crate) fn parts(parts: &[&[u8]]) -> Vec<u8> {
        let mut o = Out::default();
        for p in parts {
            o.bytes(p);
        }
        o.0
    }
}
