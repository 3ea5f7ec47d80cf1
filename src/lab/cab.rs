//! `XmlUpdateBlobCompressed` payloads: a complete Cabinet file with one MSZIP folder holding
//! one file named `blob`, the update document as UTF-16LE without BOM or XML declaration
//! (wsusss.md §2.4). Real WSUS uses LZX, which the `cab` crate cannot write; readers must
//! accept every CAB compression type anyway, so MSZIP exercises the same decode path.

use std::io::{Cursor, Write};

/// Build the cabinet for one document.
pub(super) fn compress_blob(document: &str) -> std::io::Result<Vec<u8>> {
    let utf16: Vec<u8> = document.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut builder = cab::CabinetBuilder::new();
    let file = builder
        .add_folder(cab::CompressionType::MsZip)
        .add_file("blob");
    // Fixed date and no attributes (real blobs carry zeros): the same document always
    // compresses to the same bytes, which keeps responses reproducible.
    file.set_datetime(time::macros::datetime!(1980-01-01 00:00:00));
    file.set_is_archive(false);
    let mut writer = builder.build(Cursor::new(Vec::with_capacity(utf16.len() / 3 + 256)))?;
    while let Some(mut member) = writer.next_file()? {
        member.write_all(&utf16)?;
    }
    Ok(writer.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn blob_round_trips_through_the_cab_reader_as_utf16le() {
        let doc = "<upd:Update xmlns:upd=\"u\">caf\u{e9} &amp; \u{1F600}</upd:Update>";
        let bytes = compress_blob(doc).unwrap();
        assert_eq!(&bytes[..4], b"MSCF");
        let mut cabinet = cab::Cabinet::new(Cursor::new(bytes.clone())).unwrap();
        let folders: Vec<_> = cabinet.folder_entries().collect();
        assert_eq!(folders.len(), 1);
        assert_eq!(folders[0].compression_type(), cab::CompressionType::MsZip);
        let names: Vec<_> = folders[0]
            .file_entries()
            .map(|f| f.name().to_owned())
            .collect();
        assert_eq!(names, ["blob"]);
        let mut raw = Vec::new();
        cabinet
            .read_file("blob")
            .unwrap()
            .read_to_end(&mut raw)
            .unwrap();
        // No BOM, no declaration: the first code unit is '<'.
        assert_eq!(&raw[..2], &[b'<', 0]);
        assert_eq!(crate::xml::update::decode_blob(&raw).unwrap(), doc);
        // Deterministic output.
        assert_eq!(compress_blob(doc).unwrap(), bytes);
    }
}
