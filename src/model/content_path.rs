//! `/Content/XX/<SHA1HEX>.<ext>`: the URL path real WSUS serves a file at (wsusss.md §2.9),
//! built from metadata and parsed back from client requests. Parsing is strict — a client
//! path is never a file-system path: it only ever yields a digest, which callers look up in
//! the metadata.

use super::Sha1Digest;

/// A parsed content path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRef {
    pub sha1: Sha1Digest,
    /// The extension with its dot (`.cab`), or empty.
    pub extension: String,
}

/// Longest extension accepted (`.msu`, `.cab`, `.exe`, `.psf`, `.esd`, `.appx`…).
const MAX_EXTENSION: usize = 16;

/// Parse `/Content/XX/HEX40[.ext]` (any case for the prefix and hex; `XX` must be the last two
/// hex digits). Anything else — other prefixes, encoded or extra separators, `..`, a wrong
/// folder — is `None`.
pub fn parse_content_path(path: &str) -> Option<ContentRef> {
    let rest = strip_prefix_ignore_case(path, "/Content/")?;
    let (folder, file) = rest.split_once('/')?;
    let (hex, extension) = match file.find('.') {
        Some(i) => (&file[..i], &file[i..]),
        None => (file, ""),
    };
    let ext_ok = extension.len() <= MAX_EXTENSION
        && extension.chars().skip(1).all(|c| c.is_ascii_alphanumeric());
    if folder.len() != 2 || !ext_ok || (extension.len() == 1) {
        return None;
    }
    let sha1 = Sha1Digest::from_hex(hex).ok()?;
    if !hex[38..].eq_ignore_ascii_case(folder) {
        return None;
    }
    Some(ContentRef {
        sha1,
        extension: extension.to_owned(),
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UpdateFile;

    const REAL: &str = "/Content/CD/87F5BD0469585006AA5D3A77D1C662FD2895DDCD.exe";

    #[test]
    fn real_wsus_paths_parse_in_any_case() {
        let r = parse_content_path(REAL).unwrap();
        assert_eq!(
            r.sha1.to_hex_upper(),
            "87F5BD0469585006AA5D3A77D1C662FD2895DDCD"
        );
        assert_eq!(r.extension, ".exe");
        assert_eq!(
            parse_content_path(&REAL.to_lowercase()).unwrap().sha1,
            r.sha1
        );
    }

    #[test]
    fn paths_built_from_metadata_parse_back() {
        let file = UpdateFile {
            sha1: Sha1Digest([0xAB; 20]),
            sha256: None,
            size: 1,
            name: "Windows10.0-KB1-x64.msu".into(),
            patching_type: None,
            modified: None,
        };
        let r = parse_content_path(&file.content_path()).unwrap();
        assert_eq!((r.sha1, r.extension.as_str()), (file.sha1, ".msu"));
    }

    #[test]
    fn anything_else_is_refused() {
        for p in [
            "/Content/CD/../87F5BD0469585006AA5D3A77D1C662FD2895DDCD.exe",
            "/Content/CD%2F87F5BD0469585006AA5D3A77D1C662FD2895DDCD.exe",
            "/Content/CD/87F5BD0469585006AA5D3A77D1C662FD2895DDCD.exe/x",
            "/Content/AB/87F5BD0469585006AA5D3A77D1C662FD2895DDCD.exe",
            "/Content/CD/87F5BD0469585006AA5D3A77D1C662FD2895DDC.exe",
            "/Content/CD/87F5BD0469585006AA5D3A77D1C662FD2895DDCD.e/e",
            "/Content/CD/87F5BD0469585006AA5D3A77D1C662FD2895DDCD.",
            "/Content/CD/87F5BD0469585006AA5D3A77D1C662FD2895DDCD..exe",
            "/Content//87F5BD0469585006AA5D3A77D1C662FD2895DDCD.exe",
            "/etc/passwd",
            "/Content/",
            "",
        ] {
            assert_eq!(parse_content_path(p), None, "{p}");
        }
    }
}
