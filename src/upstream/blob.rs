//! `XmlUpdateBlobCompressed`: base64 of a complete Microsoft Cabinet whose member `blob` is
//! the update document in UTF-16LE (wsusss.md §2.4). Real WSUS compresses with LZX, which
//! the `cab` crate (via `lzxd`) reads; we never hand-roll a decompressor.

use crate::xml;
use base64::{engine::general_purpose::STANDARD, Engine};
use std::io::{Cursor, Read};

/// A document is at most a few hundred KiB; refuse members that claim more (CAB bombs).
const MAX_BLOB_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("compressed blob is not base64: {0}")]
    Base64(String),
    #[error("compressed blob is not a cabinet (no MSCF signature)")]
    NotCabinet,
    #[error("cabinet: {0}")]
    Cabinet(String),
    #[error("cabinet member of {0} bytes is over the limit")]
    TooLarge(u64),
    #[error("cabinet decoder failed on malformed data")]
    DecoderPanicked,
}

impl From<BlobError> for xml::Error {
    fn from(e: BlobError) -> Self {
        xml::Error::Document(e.to_string())
    }
}

/// base64 → CAB → member `blob` (or the first member) → text via
/// `xml::update::decode_blob` (UTF-16LE without BOM as WSUS sends it; BOM and UTF-8 also
/// accepted; a leading XML declaration is dropped).
pub fn decode_compressed_blob(base64_text: &str) -> Result<String, xml::Error> {
    let compact: Vec<u8> = base64_text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let cab = STANDARD
        .decode(&compact)
        .map_err(|e| BlobError::Base64(e.to_string()))?;
    let bytes = extract(cab)?;
    xml::update::decode_blob(&bytes)
}

fn extract(cab: Vec<u8>) -> Result<Vec<u8>, BlobError> {
    if !cab.starts_with(b"MSCF") {
        return Err(BlobError::NotCabinet);
    }
    // The decompressors are third-party code fed with network bytes: a panic on a crafted
    // cabinet must become a decode error, not take the sync task down.
    std::panic::catch_unwind(move || read_member(cab)).unwrap_or(Err(BlobError::DecoderPanicked))
}

fn read_member(cab: Vec<u8>) -> Result<Vec<u8>, BlobError> {
    let io = |e: std::io::Error| BlobError::Cabinet(e.to_string());
    let mut cabinet = cab::Cabinet::new(Cursor::new(cab)).map_err(io)?;
    let (name, size) = match cabinet.get_file_entry("blob") {
        Some(f) => (f.name().to_owned(), f.uncompressed_size()),
        None => cabinet
            .folder_entries()
            .flat_map(|folder| folder.file_entries())
            .next()
            .map(|f| (f.name().to_owned(), f.uncompressed_size()))
            .ok_or_else(|| BlobError::Cabinet("no file in the cabinet".into()))?,
    };
    if u64::from(size) > MAX_BLOB_BYTES {
        return Err(BlobError::TooLarge(size.into()));
    }
    let mut out = Vec::with_capacity(size as usize);
    cabinet
        .read_file(&name)
        .map_err(io)?
        .take(MAX_BLOB_BYTES)
        .read_to_end(&mut out)
        .map_err(io)?;
    if out.len() != size as usize {
        return Err(BlobError::Cabinet(format!(
            "member {name:?} gave {} of {size} bytes",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn utf16(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn mszip_cab(name: &str, data: &[u8]) -> Vec<u8> {
        let mut builder = cab::CabinetBuilder::new();
        builder
            .add_folder(cab::CompressionType::MsZip)
            .add_file(name);
        let mut writer = builder.build(Cursor::new(Vec::new())).unwrap();
        while let Some(mut f) = writer.next_file().unwrap() {
            f.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn mszip_cabinet_round_trips_to_the_document_text() {
        let doc = "<upd:Update xmlns:upd=\"u\">ünïcode ✓</upd:Update>";
        let b64 = STANDARD.encode(mszip_cab("blob", &utf16(doc)));
        // Line breaks inside base64 are tolerated.
        let wrapped: String = b64
            .as_bytes()
            .chunks(20)
            .map(|c| format!("{}\r\n ", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(decode_compressed_blob(&wrapped).unwrap(), doc);
        // Another member name: the first file is taken.
        let other = STANDARD.encode(mszip_cab("update.xml", &utf16(doc)));
        assert_eq!(decode_compressed_blob(&other).unwrap(), doc);
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        assert!(decode_compressed_blob("not base64!").is_err());
        assert!(decode_compressed_blob(&STANDARD.encode(b"PK\x03\x04zip")).is_err());
        let cab = mszip_cab("blob", &utf16("<a/>"));
        // Every truncation and a flipped byte at every position of a real cabinet.
        for len in 0..cab.len() {
            let _ = decode_compressed_blob(&STANDARD.encode(&cab[..len]));
        }
        for i in 0..cab.len() {
            let mut bad = cab.clone();
            bad[i] ^= 0xA5;
            let _ = decode_compressed_blob(&STANDARD.encode(&bad));
        }
    }
}
