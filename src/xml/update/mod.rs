//! The update metadata document (`<upd:Update>`, wsusss.md §5): text decoding of blobs and
//! parsing into `model::UpdateDoc`. Matching is by (namespace URI, local name); prefixes are
//! never relied on (real documents re-declare them on inner elements).
//!
//! Why streaming: an initial sync parses tens of thousands of documents, and building the
//! `xml::Element` tree for each (a `String` per element name, namespace and attribute) was a
//! large share of the sync's CPU. `parse` therefore reads quick-xml's `NsReader` events once,
//! builds no tree and keeps only what `UpdateDoc` needs, holding the same hardening rules as
//! `xml::tree` (no DOCTYPE, size, depth and element-count limits, no undeclared prefix,
//! nothing after the root).
//!
//! - `reader`: the hardened event loop; it validates every event and attribute exactly as the
//!   tree reader does, and hands elements and text to the collector.
//! - `collect`: which elements matter (the rules the element-tree parser applied, kept
//!   verbatim), what is kept of them, and the assembly of the `UpdateDoc`.
//! - `dom_oracle` (tests only): the former element-tree parser, the reference the streaming
//!   parser is checked against.

mod collect;
#[cfg(test)]
mod dom_oracle;
mod reader;
#[cfg(test)]
mod tests;

use super::{Error, Limits};
use crate::model::UpdateDoc;

pub const NS_UPDATE: &str = "http://schemas.microsoft.com/msus/2002/12/Update";

/// Limits for one update document (real ones are up to a few hundred KiB).
const DOC_LIMITS: Limits = Limits {
    max_bytes: 16 << 20,
    max_depth: 64,
    max_elements: 1_000_000,
};

/// Turn the bytes of a decompressed blob into text: UTF-16LE (with or without BOM, what WSUS
/// sends), or UTF-8 when the bytes start like ASCII markup. A leading XML declaration is
/// dropped so that nobody re-decodes the text by its `encoding=` attribute.
pub fn decode_blob(bytes: &[u8]) -> Result<String, Error> {
    let mut text = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        utf16le(rest)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8(rest.to_vec()).map_err(|_| Error::NotUtf8)?
    } else if bytes.len() >= 2 && bytes[1] == 0 {
        utf16le(bytes)?
    } else {
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::NotUtf8)?
    };
    // What is stripped is a prefix: cut it off in place rather than copy the document.
    let start = text.len() - strip_declaration(&text).len();
    text.drain(..start);
    Ok(text)
}

fn utf16le(bytes: &[u8]) -> Result<String, Error> {
    if !bytes.len().is_multiple_of(2) {
        return Err(Error::Document("odd UTF-16 length".into()));
    }
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| Error::Document("invalid UTF-16".into()))
}

fn strip_declaration(text: &str) -> &str {
    let t = text.trim_start_matches('\u{feff}');
    if t.starts_with("<?xml") {
        if let Some(end) = t.find("?>") {
            return t[end + 2..].trim_start();
        }
    }
    t
}

/// Parse a document. GUIDs are parsed, so their case (documents keep upper case where the
/// SOAP `Id` is lower case) never matters when callers compare identities.
pub fn parse(xml: &str) -> Result<UpdateDoc, Error> {
    reader::scan(xml)?.into_doc()
}
