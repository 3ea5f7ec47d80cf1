//! Hardened XML: the element-tree reader (`tree`), a small writer for WSDL-ordered messages
//! (`Writer`), the SOAP 1.1 envelope and fault (`soap`), and the update-document parser
//! (`update`). Both sides of the protocols (the `upstream` client, the `lab` USS, later the
//! client-facing `serve`) build on these, never on string matching.

pub mod soap;
mod tree;
pub mod update;

pub use tree::{Element, Limits};

use quick_xml::escape::escape;
use std::fmt::Write as _;

/// Namespace of every ServerSync, Reporting and client web-service body element.
pub const NS_SD: &str = "http://www.microsoft.com/SoftwareDistribution";
/// Namespace of the DSS authorization web service.
pub const NS_DSSAUTH: &str =
    "http://www.microsoft.com/SoftwareDistribution/Server/DssAuthWebService";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("malformed XML: {0}")]
    Syntax(String),
    #[error("XML is not UTF-8")]
    NotUtf8,
    #[error("XML with a DOCTYPE is refused")]
    DocType,
    #[error("XML over the {0}-byte limit")]
    TooLarge(usize),
    #[error("XML limit exceeded: {0}")]
    Limit(&'static str),
    #[error("not a SOAP envelope: {0}")]
    NotSoap(&'static str),
    #[error("missing element {0}")]
    Missing(String),
    #[error("bad value in {element}: {value:?}")]
    BadValue { element: String, value: String },
    #[error("update document: {0}")]
    Document(String),
}

impl Error {
    pub(crate) fn syntax(e: impl std::fmt::Display) -> Self {
        Self::Syntax(e.to_string())
    }
}

/// Appends escaped XML to a `String`. Messages are written by hand in WSDL sequence order
/// (wsusss.md §1.3: .NET peers may drop out-of-order elements).
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    /// `<name xmlns="ns">`
    pub fn open_ns(&mut self, name: &str, ns: &str) -> &mut Self {
        let _ = write!(self.out, "<{name} xmlns=\"{}\">", escape(ns));
        self
    }

    /// `<name xmlns="ns"/>`
    pub fn empty_ns(&mut self, name: &str, ns: &str) -> &mut Self {
        let _ = write!(self.out, "<{name} xmlns=\"{}\"/>", escape(ns));
        self
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "<{name}>");
        self
    }

    /// An opening tag with escaped attributes.
    pub fn open_attrs(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.tag_attrs(name, attrs);
        self.out.push('>');
        self
    }

    /// A self-closing tag with escaped attributes.
    pub fn empty_attrs(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.tag_attrs(name, attrs);
        self.out.push_str("/>");
        self
    }

    fn tag_attrs(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let _ = write!(self.out, "<{name}");
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", escape(*v));
        }
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "</{name}>");
        self
    }

    pub fn empty(&mut self, name: &str) -> &mut Self {
        let _ = write!(self.out, "<{name}/>");
        self
    }

    /// `<name>escaped text</name>`
    pub fn leaf(&mut self, name: &str, text: impl AsRef<str>) -> &mut Self {
        let _ = write!(self.out, "<{name}>{}</{name}>", escape(text.as_ref()));
        self
    }

    /// A leaf only when the value is present (absent element = null).
    pub fn opt_leaf(&mut self, name: &str, text: Option<impl AsRef<str>>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(name, t);
        }
        self
    }

    pub fn bool_leaf(&mut self, name: &str, value: bool) -> &mut Self {
        self.leaf(name, if value { "true" } else { "false" })
    }

    /// Escaped character data.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.out.push_str(&escape(text));
        self
    }

    /// Already well-formed XML (another writer's output).
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.out.push_str(xml);
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Parse a boolean as xs:boolean allows (`true`/`false`/`1`/`0`).
pub fn parse_bool(el: &Element) -> Result<bool, Error> {
    match el.text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(bad(&el.name, other)),
    }
}

/// Parse an integer element.
pub fn parse_int<T: std::str::FromStr>(el: &Element) -> Result<T, Error> {
    el.text.trim().parse().map_err(|_| bad(&el.name, &el.text))
}

/// Parse a GUID element or attribute value (any case, no braces).
pub fn parse_guid(name: &str, text: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(text.trim()).map_err(|_| bad(name, text))
}

/// The required child `name` of `el`.
pub fn required<'a>(el: &'a Element, name: &str) -> Result<&'a Element, Error> {
    el.child(name)
        .ok_or_else(|| Error::Missing(format!("{}/{name}", el.name)))
}

pub(crate) fn bad(element: &str, value: &str) -> Error {
    Error::BadValue {
        element: element.to_owned(),
        value: value.chars().take(80).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_escapes_text_and_attributes() {
        let mut w = Writer::new();
        w.open_ns("Op", NS_SD)
            .leaf("a", "x<&>\"y")
            .empty_attrs("b", &[("k", "1\"2")])
            .close("Op");
        let xml = w.finish();
        let parsed = Element::parse(xml.as_bytes()).unwrap();
        assert_eq!(parsed.ns, NS_SD);
        assert_eq!(parsed.child_text("a"), Some("x<&>\"y"));
        assert_eq!(parsed.child("b").unwrap().attr("k"), Some("1\"2"));
    }
}
