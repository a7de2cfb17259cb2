//! PEM as Go reads it (`encoding/pem`), and written.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

/// One PEM block: its type, whether it had headers, its bytes.
#[derive(Debug, Clone)]
pub(super) struct Block {
    pub(super) kind: String,
    pub(super) headers: bool,
    pub(super) der: Vec<u8>,
}

/// Go's base64 for PEM: padded, tolerant of stray low bits.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// The blocks Go's `pem.Decode` finds in `text`, in order: what is not a well-formed block
/// (text around blocks, a block whose end line or base64 is wrong) is passed over.
pub(super) fn pem_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut rest = text.as_bytes();
    while let Some((block, after)) = pem_block(rest) {
        blocks.push(block);
        rest = after;
    }
    blocks
}

fn pem_block(data: &[u8]) -> Option<(Block, &[u8])> {
    const BEGIN: &[u8] = b"\n-----BEGIN ";
    const END: &[u8] = b"\n-----END ";
    const DASHES: &[u8] = b"-----";
    let mut rest = data;
    loop {
        if rest.starts_with(&BEGIN[1..]) {
            rest = &rest[BEGIN.len() - 1..];
        } else if let Some(i) = find(rest, BEGIN) {
            rest = &rest[i + BEGIN.len()..];
        } else {
            return None;
        }
        let (type_line, after) = line(rest);
        rest = after;
        let Some(kind) = type_line.strip_suffix(DASHES) else {
            continue;
        };
        let mut headers = false;
        loop {
            if rest.is_empty() {
                return None;
            }
            let (header, next) = line(rest);
            if !header.contains(&b':') {
                break;
            }
            headers = true;
            rest = next;
        }
        let (end, trailer) = if !headers && rest.starts_with(&END[1..]) {
            (0, END.len() - 1)
        } else {
            match find(rest, END) {
                Some(i) => (i, i + END.len()),
                None => continue,
            }
        };
        let trailer = &rest[trailer..];
        let wanted = kind.len() + DASHES.len();
        if trailer.len() < wanted {
            continue;
        }
        let (end_line, after_end) = trailer.split_at(wanted);
        if !end_line.starts_with(kind) || !end_line.ends_with(DASHES) {
            continue;
        }
        if !line(after_end).0.is_empty() {
            continue;
        }
        let body: Vec<u8> = rest[..end]
            .iter()
            .copied()
            .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .collect();
        let Ok(der) = BASE64.decode(&body) else {
            continue;
        };
        let (_, after) = line(&rest[end + END.len() - 1..]);
        let block = Block {
            kind: String::from_utf8_lossy(kind).into_owned(),
            headers,
            der,
        };
        return Some((block, after));
    }
}

/// The first line of `data` without its end of line and trailing blanks, and the rest.
fn line(data: &[u8]) -> (&[u8], &[u8]) {
    let (mut line, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (
            data[..i].strip_suffix(b"\r").unwrap_or(&data[..i]),
            &data[i + 1..],
        ),
        None => (data, &data[data.len()..]),
    };
    while let [head @ .., b' ' | b'\t'] = line {
        line = head;
    }
    (line, rest)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `der` as a PEM block of type `kind`.
pub(super) fn pem(kind: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {kind}-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
}
