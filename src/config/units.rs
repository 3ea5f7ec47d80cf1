//! Value syntaxes of the config file: durations, byte sizes and base URLs, each with a parser
//! that explains what it expected and a printer whose output the parser reads back exactly.

use std::time::Duration;

/// Parses a humantime duration ("90s", "6h", "1h 30m", "0s").
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration".to_owned());
    }
    humantime::parse_duration(trimmed).map_err(|e| format!("{text:?}: {e}"))
}

/// Prints a duration so that [`parse_duration`] reads it back exactly ("6h", "1m 30s", "0s").
pub(crate) fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Binary units accepted after a size number, largest first (the printer picks the largest exact).
const SIZE_UNITS: [(&str, u64); 5] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

/// Parses a byte size: a bare number of bytes ("1000"), or a number with a binary unit
/// (B, KiB, MiB, GiB, TiB; case-insensitive, optional space). A decimal fraction is allowed with
/// KiB and larger ("1.5GiB") and rounds down to whole bytes. Decimal units (KB, MB, GB) are
/// refused rather than guessed, because "200GB" and "200GiB" differ by 7%.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = (&s[..split], s[split..].trim_start());
    if number.is_empty() {
        return Err(format!("{text:?} does not start with a number"));
    }
    let multiplier = if unit.is_empty() {
        1
    } else {
        match SIZE_UNITS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(unit))
        {
            Some(&(_, m)) => m,
            None => {
                let hint = match unit.to_ascii_uppercase().as_str() {
                    "K" | "KB" => " (write KiB: only binary units are accepted)",
                    "M" | "MB" => " (write MiB: only binary units are accepted)",
                    "G" | "GB" => " (write GiB: only binary units are accepted)",
                    "T" | "TB" => " (write TiB: only binary units are accepted)",
                    _ => "",
                };
                return Err(format!("{text:?} has an unknown unit {unit:?}{hint}"));
            }
        }
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (number, None),
    };
    let too_big = || format!("{text:?} is too large (the limit is 16EiB)");
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| format!("{text:?} is not a valid number"))?
    };
    let mut bytes = u128::from(whole) * u128::from(multiplier);
    if let Some(fraction) = fraction {
        if multiplier < 1024 {
            return Err(format!(
                "{text:?}: a fraction needs a unit of KiB or larger (bytes are whole)"
            ));
        }
        if fraction.is_empty()
            || fraction.len() > 9
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(format!("{text:?} is not a valid number"));
        }
        let digits: u128 = fraction
            .parse()
            .map_err(|_| format!("{text:?} is not a valid number"))?;
        let scale = 10u128.pow(u32::try_from(fraction.len()).map_err(|_| too_big())?);
        bytes += digits * u128::from(multiplier) / scale;
    }
    u64::try_from(bytes).map_err(|_| too_big())
}

/// Prints a byte size so that [`parse_size`] reads it back exactly: the largest binary unit that
/// divides it ("200GiB", "512MiB"), else plain bytes ("1000"); zero is "0".
pub(crate) fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0".to_owned();
    }
    for (name, m) in SIZE_UNITS {
        if m > 1 && bytes.is_multiple_of(m) {
            return format!("{}{name}", bytes / m);
        }
    }
    bytes.to_string()
}

/// The parts of a validated base URL: `scheme://host[:port]` with nothing after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    /// `http` or `https`, lower case.
    pub scheme: &'static str,
    /// Host name, IPv4 address or bracketed IPv6 address, lower case.
    pub host: String,
    /// The port as written, if any.
    pub port: Option<u16>,
}

impl BaseUrl {
    /// The port in effect: as written, else the scheme's default.
    pub fn port_or_default(&self) -> u16 {
        self.port
            .unwrap_or(if self.scheme == "https" { 443 } else { 80 })
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Splits `http(s)://host[:port][/]` into its parts. With `allow_path`, a path after the
/// authority is accepted and returned (without its trailing '/'); query, fragment and user
/// info are always refused.
pub(crate) fn parse_base_url(text: &str, allow_path: bool) -> Result<(BaseUrl, String), String> {
    let s = text.trim();
    let (scheme, rest) = match s.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => ("http", rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => ("https", rest),
        Some((scheme, _)) => {
            return Err(format!(
                "{text:?} has scheme {scheme:?}; use http:// or https://"
            ))
        }
        None => return Err(format!("{text:?} does not start with http:// or https://")),
    };
    if rest.contains(['?', '#']) {
        return Err(format!("{text:?} has a query or fragment; remove it"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if !path.is_empty() && !allow_path {
        return Err(format!(
            "{text:?} has a path {path:?}; give only scheme://host[:port]"
        ));
    }
    if authority.contains('@') {
        return Err(format!(
            "{text:?} contains user info; remove the `user@` part"
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{text:?} has an unclosed '[' in its host"))?;
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{text:?} has an invalid IPv6 address [{inside}]"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("{text:?} has junk after its IPv6 address"))?,
            ),
        };
        (format!("[{}]", inside.to_ascii_lowercase()), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
            None => (authority.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("{text:?} has no host"));
    }
    if !host.starts_with('[')
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return Err(format!("{text:?} has an invalid host name {host:?}"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("{text:?} has an invalid port {p:?} (1-65535)")),
        },
    };
    Ok((BaseUrl { scheme, host, port }, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("1000", 1000),
            ("1000B", 1000),
            ("10KiB", 10 * 1024),
            ("512MiB", 512 << 20),
            ("200GiB", 200 << 30),
            ("200 GiB", 200 << 30),
            ("200gib", 200 << 30),
            ("2TiB", 2 << 40),
            ("1.5GiB", 3 << 29),
            ("0.5KiB", 512),
            ("  4MiB ", 4 << 20),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn sizes_reject() {
        for text in [
            "",
            "GiB",
            "200GB",
            "200 MB",
            "5k",
            "-1",
            "1.5",
            "1.5B",
            "1.GiB",
            "1..5GiB",
            "99999999TiB",
            "18446744073709551616",
            "12 parsecs",
            "1e3",
        ] {
            assert!(parse_size(text).is_err(), "{text:?} should be refused");
        }
        assert!(parse_size("200GB").unwrap_err().contains("GiB"));
    }

    #[test]
    fn sizes_round_trip() {
        for bytes in [
            0,
            1,
            1000,
            1024,
            1536,
            3 << 29,
            200 << 30,
            5 << 40,
            u64::MAX,
        ] {
            let text = format_size(bytes);
            assert_eq!(parse_size(&text), Ok(bytes), "{text}");
        }
        assert_eq!(format_size(200 << 30), "200GiB");
        assert_eq!(format_size(1536), "1536");
        assert_eq!(format_size(3 << 29), "1536MiB");
    }

    #[test]
    fn durations_round_trip() {
        for text in ["0s", "90s", "6h", "30m", "1h 30m", "1500ms"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{text}");
        }
        assert_eq!(format_duration(Duration::from_secs(6 * 3600)), "6h");
        assert!(parse_duration("6 hourz").is_err());
        assert!(parse_duration("6").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn base_urls() {
        let (u, p) = parse_base_url("HTTPS://WSUS.hq.example:8531/", false).unwrap();
        assert_eq!(u.to_string(), "https://wsus.hq.example:8531");
        assert_eq!(p, "");
        let (u, _) = parse_base_url("http://[::1]:8530", false).unwrap();
        assert_eq!((u.host.as_str(), u.port), ("[::1]", Some(8530)));
        let (u, _) = parse_base_url("http://127.0.0.1", false).unwrap();
        assert_eq!(u.port_or_default(), 80);
        let (_, p) = parse_base_url("http://proxy.example/wsus/", true).unwrap();
        assert_eq!(p, "/wsus");
        for bad in [
            "ftp://x",
            "wsus.example:8530",
            "http://",
            "http://:8530",
            "http://x:0",
            "http://x:99999",
            "http://x/path",
            "http://x?q=1",
            "http://user@x",
            "http://[::1",
            "http://bad host",
        ] {
            assert!(
                parse_base_url(bad, false).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
