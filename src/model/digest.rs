//! Content digests. The metadata carries them base64-encoded; URLs and cacache use hex.

use base64::{engine::general_purpose::STANDARD, Engine};
use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("digest is not valid base64: {0}")]
    Base64(String),
    #[error("digest has {got} bytes, expected {want}")]
    Length { got: usize, want: usize },
    #[error("digest is not valid hex")]
    Hex,
}

macro_rules! digest_type {
    ($name:ident, $len:expr) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            pub const LEN: usize = $len;

            pub fn from_slice(bytes: &[u8]) -> Result<Self, DigestError> {
                <[u8; $len]>::try_from(bytes)
                    .map(Self)
                    .map_err(|_| DigestError::Length {
                        got: bytes.len(),
                        want: $len,
                    })
            }

            /// Decode base64 as found in metadata, tolerating embedded white space.
            pub fn from_base64(text: &str) -> Result<Self, DigestError> {
                let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = STANDARD
                    .decode(compact.as_bytes())
                    .map_err(|e| DigestError::Base64(e.to_string()))?;
                Self::from_slice(&bytes)
            }

            pub fn from_hex(text: &str) -> Result<Self, DigestError> {
                if text.len() != $len * 2 || !text.is_ascii() {
                    return Err(DigestError::Hex);
                }
                let mut out = [0u8; $len];
                for (i, byte) in out.iter_mut().enumerate() {
                    *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                        .map_err(|_| DigestError::Hex)?;
                }
                Ok(Self(out))
            }

            pub fn to_base64(&self) -> String {
                STANDARD.encode(self.0)
            }

            pub fn to_hex_upper(&self) -> String {
                self.0.iter().map(|b| format!("{b:02X}")).collect()
            }

            pub fn to_hex(&self) -> String {
                self.0.iter().map(|b| format!("{b:02x}")).collect()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex_upper())
            }
        }
    };
}

digest_type!(Sha1Digest, 20);
digest_type!(Sha256Digest, 32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_digest_round_trips_between_base64_and_the_content_url_hex() {
        // AM_Delta.exe from samples/real-wsusss/exchanges/000014 and its /Content URL.
        let d = Sha1Digest::from_base64("h/W9BGlYUAaqXTp30cZi/SiV3c0=").unwrap();
        assert_eq!(d.to_hex_upper(), "87F5BD0469585006AA5D3A77D1C662FD2895DDCD");
        assert_eq!(Sha1Digest::from_hex(&d.to_hex()).unwrap(), d);
        assert_eq!(d.to_base64(), "h/W9BGlYUAaqXTp30cZi/SiV3c0=");
    }

    #[test]
    fn wrong_lengths_and_garbage_are_errors() {
        assert!(matches!(
            Sha1Digest::from_base64("AAAA"),
            Err(DigestError::Length { got: 3, want: 20 })
        ));
        assert!(Sha1Digest::from_base64("!!").is_err());
        assert_eq!(Sha1Digest::from_hex("zz"), Err(DigestError::Hex));
    }
}
