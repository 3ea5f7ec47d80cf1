//! HTTP `Range` resolution for `/Content` downloads, as a pure function (RFC 9110 §14).
//!
//! Windows clients (Delivery Optimization) fetch update files as single byte ranges — the
//! whole small file as one exact range, large files in 1 MiB pieces, the last piece ending at
//! size − 1 (samples/native-wua/content-headers). One range is all we serve: a header with
//! several ranges, another unit or bad syntax is ignored and the whole file is sent, as the
//! RFC allows; a range starting past the end is the only 416.

/// What to send for a request on a representation of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// 200 with the whole body (no Range, or one we ignore).
    Full,
    /// 206 with bytes `start..=end` and `Content-Range: bytes start-end/len`.
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

impl Resolved {
    /// Number of body bytes this outcome sends.
    pub fn body_len(self, len: u64) -> u64 {
        match self {
            Self::Full => len,
            Self::Partial { start, end } => end - start + 1,
            Self::Unsatisfiable => 0,
        }
    }
}

/// Resolve a `Range` header value against a representation of `len` bytes.
pub fn resolve(header: Option<&str>, len: u64) -> Resolved {
    let Some(spec) = header.and_then(single_byte_range) else {
        return Resolved::Full;
    };
    match spec {
        Spec::FromTo(first, last) if first > last => Resolved::Full,
        Spec::FromTo(first, _) | Spec::From(first) if first >= len => Resolved::Unsatisfiable,
        Spec::FromTo(first, last) => Resolved::Partial {
            start: first,
            end: last.min(len - 1),
        },
        Spec::From(first) => Resolved::Partial {
            start: first,
            end: len - 1,
        },
        Spec::Suffix(0) => Resolved::Unsatisfiable,
        Spec::Suffix(_) if len == 0 => Resolved::Unsatisfiable,
        Spec::Suffix(n) => Resolved::Partial {
            start: len.saturating_sub(n),
            end: len - 1,
        },
    }
}

/// One parsed `byte-range-spec`. Positions that overflow u64 saturate: a start that large
/// is past any end, an end or suffix that large covers everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    FromTo(u64, u64),
    From(u64),
    Suffix(u64),
}

/// `bytes=<one spec>`, or `None` for anything we ignore.
fn single_byte_range(header: &str) -> Option<Spec> {
    let (unit, set) = header.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (first, last) = set.trim().split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        (false, false) => Some(Spec::FromTo(position(first)?, position(last)?)),
        (false, true) => Some(Spec::From(position(first)?)),
        (true, false) => Some(Spec::Suffix(position(last)?)),
        (true, true) => None,
    }
}

fn position(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::Resolved::{Full, Partial, Unsatisfiable};
    use super::*;

    const LEN: u64 = 204_745_168;

    fn r(header: &str, len: u64) -> Resolved {
        resolve(Some(header), len)
    }

    #[test]
    fn no_header_is_the_whole_file() {
        assert_eq!(resolve(None, 10), Full);
        assert_eq!(resolve(None, 0), Full);
    }

    #[test]
    fn native_client_whole_small_file_as_one_range() {
        assert_eq!(
            r("bytes=0-918943", 918_944),
            Partial {
                start: 0,
                end: 918_943
            }
        );
    }

    #[test]
    fn native_client_first_middle_and_final_pieces() {
        assert_eq!(
            r("bytes=0-1048575", LEN),
            Partial {
                start: 0,
                end: 1_048_575
            }
        );
        assert_eq!(
            r("bytes=102760448-103809023", LEN),
            Partial {
                start: 102_760_448,
                end: 103_809_023
            }
        );
        let last = r("bytes=204472320-204745167", LEN);
        assert_eq!(
            last,
            Partial {
                start: 204_472_320,
                end: 204_745_167
            }
        );
        assert_eq!(last.body_len(LEN), 272_848);
    }

    #[test]
    fn open_ended_range_runs_to_the_end() {
        assert_eq!(r("bytes=5-", 10), Partial { start: 5, end: 9 });
        assert_eq!(r("bytes=9-", 10), Partial { start: 9, end: 9 });
    }

    #[test]
    fn end_past_the_file_is_clamped() {
        assert_eq!(r("bytes=5-100", 10), Partial { start: 5, end: 9 });
        assert_eq!(
            r("bytes=0-99999999999999999999999", 10),
            Partial { start: 0, end: 9 }
        );
    }

    #[test]
    fn suffix_ranges_take_the_last_bytes() {
        assert_eq!(r("bytes=-3", 10), Partial { start: 7, end: 9 });
        assert_eq!(r("bytes=-10", 10), Partial { start: 0, end: 9 });
        assert_eq!(r("bytes=-500", 10), Partial { start: 0, end: 9 });
    }

    #[test]
    fn start_past_the_end_is_416() {
        assert_eq!(r("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(r("bytes=10-", 10), Unsatisfiable);
        assert_eq!(r("bytes=99999999999999999999999-", 10), Unsatisfiable);
        assert_eq!(r("bytes=0-0", 0), Unsatisfiable);
    }

    #[test]
    fn empty_suffix_and_suffix_of_empty_file_are_416() {
        assert_eq!(r("bytes=-0", 10), Unsatisfiable);
        assert_eq!(r("bytes=-5", 0), Unsatisfiable);
    }

    #[test]
    fn reversed_malformed_multiple_and_foreign_units_are_ignored() {
        for h in [
            "bytes=5-2",
            "bytes=abc",
            "bytes=-",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes",
            "",
        ] {
            assert_eq!(r(h, 10), Full, "{h:?}");
        }
    }

    #[test]
    fn unit_and_spaces_are_lenient() {
        assert_eq!(r(" Bytes = 1 - 2 ", 10), Partial { start: 1, end: 2 });
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn partial_ranges_always_lie_inside_the_file(header in ".{0,40}", len in 0u64..1_000_000) {
                if let Partial { start, end } = resolve(Some(&header), len) {
                    prop_assert!(start <= end && end < len);
                }
            }

            #[test]
            fn well_formed_ranges_match_a_model(a in 0u64..2_000, b in 0u64..2_000, len in 0u64..1_000) {
                let got = r(&format!("bytes={a}-{b}"), len);
                let want = if a > b {
                    Full
                } else if a >= len {
                    Unsatisfiable
                } else {
                    Partial { start: a, end: b.min(len - 1) }
                };
                prop_assert_eq!(got, want);
            }

            #[test]
            fn suffix_ranges_match_a_model(n in 0u64..2_000, len in 0u64..1_000) {
                let got = r(&format!("bytes=-{n}"), len);
                let want = if n == 0 || len == 0 {
                    Unsatisfiable
                } else {
                    Partial { start: len.saturating_sub(n), end: len - 1 }
                };
                prop_assert_eq!(got, want);
            }
        }
    }
}
