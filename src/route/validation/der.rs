//! A minimal DER reader: what the key and certificate checks need of ASN.1 beyond x509-parser.

pub(super) const INTEGER: u8 = 0x02;
pub(super) const BIT_STRING: u8 = 0x03;
pub(super) const OCTET_STRING: u8 = 0x04;
pub(super) const OID: u8 = 0x06;
pub(super) const SEQUENCE: u8 = 0x30;

/// A reader of DER elements.
pub(super) struct Der<'a>(pub(super) &'a [u8]);

impl<'a> Der<'a> {
    /// The next element: its tag and contents.
    pub(super) fn read(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let length = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (bytes, after) = rest.split_at(count);
            rest = after;
            bytes.iter().fold(0, |n, &b| n << 8 | usize::from(b))
        };
        if rest.len() < length {
            return None;
        }
        let (contents, after) = rest.split_at(length);
        self.0 = after;
        Some((tag, contents))
    }

    pub(super) fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (found, contents) = self.read()?;
        (found == tag).then_some(contents)
    }

    pub(super) fn optional(&mut self, tag: u8) -> Option<&'a [u8]> {
        if self.0.first() == Some(&tag) {
            self.expect(tag)
        } else {
            None
        }
    }
}

/// The contents of the SEQUENCE `der` starts with, and what follows it.
pub(super) fn sequence(der: &[u8]) -> Option<(Der<'_>, &[u8])> {
    let mut outer = Der(der);
    let contents = outer.expect(SEQUENCE)?;
    Some((Der(contents), outer.0))
}

/// An INTEGER's contents without leading zero bytes.
pub(super) fn strip_zeros(mut int: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = int {
        int = rest;
    }
    int
}
