//! A small owned element tree built from quick-xml's namespace-aware reader.
//!
//! Why by hand: quick-xml is our one XML stack and has no tree of its own; SOAP messages and
//! update documents are small enough (bounded by `Limits`) that a tree is the clearest way to
//! read them. The reader enforces the hardening rules while it builds: no DOCTYPE (so no
//! entity expansion), bounded depth, bounded size, bounded element count.

use super::Error;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

/// Caps applied while parsing untrusted XML.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_elements: usize,
}

impl Limits {
    /// Checks made as the `count`-th element opens at depth `depth` (0 = the root).
    pub(super) fn check_open(&self, count: usize, depth: usize) -> Result<(), Error> {
        if count > self.max_elements {
            return Err(Error::Limit("too many elements"));
        }
        if depth >= self.max_depth {
            return Err(Error::Limit("nesting too deep"));
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 256 << 20,
            max_depth: 64,
            max_elements: 10_000_000,
        }
    }
}

/// One element: namespace URI, local name, unqualified attributes, children and text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub ns: String,
    pub name: String,
    /// Attributes by local name (namespace dropped: WSUS attributes are unqualified,
    /// except `xsi:type`, which is kept as `type`).
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Concatenated character data directly inside this element (unescaped).
    pub text: String,
}

impl Element {
    /// Parse a whole document with default limits.
    pub fn parse(input: &[u8]) -> Result<Element, Error> {
        Self::parse_with(input, Limits::default())
    }

    pub fn parse_with(input: &[u8], limits: Limits) -> Result<Element, Error> {
        if input.len() > limits.max_bytes {
            return Err(Error::TooLarge(limits.max_bytes));
        }
        let text = std::str::from_utf8(input).map_err(|_| Error::NotUtf8)?;
        let mut reader = NsReader::from_str(text);
        let mut stack: Vec<Element> = Vec::new();
        let mut count = 0usize;
        loop {
            let (resolved, event) = reader.read_resolved_event().map_err(Error::syntax)?;
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    count += 1;
                    limits.check_open(count, stack.len())?;
                    let ns = namespace(resolved)?
                        .map(|ns| String::from_utf8_lossy(ns).into_owned())
                        .unwrap_or_default();
                    let mut el = Element {
                        ns,
                        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        ..Element::default()
                    };
                    for attr in e.attributes() {
                        let attr = attr.map_err(Error::syntax)?;
                        let key = attr.key;
                        if key.as_namespace_binding().is_some() {
                            continue;
                        }
                        let value = attr
                            .decode_and_unescape_value(reader.decoder())
                            .map_err(Error::syntax)?;
                        el.attrs.push((
                            String::from_utf8_lossy(key.local_name().as_ref()).into_owned(),
                            value.into_owned(),
                        ));
                    }
                    if matches!(event, Event::Empty(_)) {
                        if stack.is_empty() {
                            finish(&mut reader)?;
                            return Ok(el);
                        }
                        attach(&mut stack, el);
                    } else {
                        stack.push(el);
                    }
                }
                Event::End(_) => {
                    let el = stack
                        .pop()
                        .ok_or(Error::Syntax("unbalanced end tag".into()))?;
                    if stack.is_empty() {
                        finish(&mut reader)?;
                        return Ok(el);
                    }
                    attach(&mut stack, el);
                }
                Event::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.unescape().map_err(Error::syntax)?);
                    } else if !t.iter().all(u8::is_ascii_whitespace) {
                        return Err(Error::Syntax("text outside the root element".into()));
                    }
                }
                Event::CData(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&String::from_utf8_lossy(&t));
                    }
                }
                Event::DocType(_) => return Err(Error::DocType),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => return Err(Error::Syntax("unexpected end of document".into())),
            }
        }
    }

    /// Value of the attribute with this local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// First child with this local name (any namespace).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children with this local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Text of the first child with this local name.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// Follow a path of local names.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |el, n| el.child(n))
    }

    /// Depth-first search for the first descendant (or self) with this local name.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// `xsi:nil="true"` items of nillable arrays are skipped by readers.
    pub fn is_nil(&self) -> bool {
        self.attr("nil").is_some_and(|v| v == "true" || v == "1")
    }
}

fn attach(stack: &mut [Element], el: Element) {
    if let Some(parent) = stack.last_mut() {
        parent.children.push(el);
    }
}

/// The namespace URI of an element, `None` when it has none; an undeclared prefix is an
/// error. Shared with the streaming document reader.
pub(super) fn namespace(resolved: ResolveResult<'_>) -> Result<Option<&[u8]>, Error> {
    match resolved {
        ResolveResult::Bound(ns) => Ok(Some(ns.into_inner())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(p) => Err(Error::Syntax(format!(
            "undeclared prefix {}",
            String::from_utf8_lossy(&p)
        ))),
    }
}

/// After the root closes only white space, comments and PIs may follow. Shared with the
/// streaming document reader.
pub(super) fn finish(reader: &mut NsReader<&[u8]>) -> Result<(), Error> {
    loop {
        match reader.read_event().map_err(Error::syntax)? {
            Event::Eof => return Ok(()),
            Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
            Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(Error::DocType),
            _ => return Err(Error::Syntax("content after the root element".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_namespaces_declared_on_inner_elements() {
        let doc = br#"<a:root xmlns:a="urn:a"><b:x xmlns:b="urn:b" k="v &amp; w">t&lt;</b:x><y/></a:root>"#;
        let root = Element::parse(doc).unwrap();
        assert_eq!((root.ns.as_str(), root.name.as_str()), ("urn:a", "root"));
        let x = root.child("x").unwrap();
        assert_eq!(x.ns, "urn:b");
        assert_eq!(x.attr("k"), Some("v & w"));
        assert_eq!(x.text, "t<");
        assert_eq!(root.child("y").unwrap().ns, "");
    }

    #[test]
    fn refuses_doctype_and_entities() {
        let doc = br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "boom">]><r>&e;</r>"#;
        assert!(matches!(Element::parse(doc), Err(Error::DocType)));
        assert!(Element::parse(b"<r>&e;</r>").is_err());
    }

    #[test]
    fn enforces_limits() {
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(matches!(
            Element::parse(deep.as_bytes()),
            Err(Error::Limit(_))
        ));
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            Element::parse_with(b"<abcdefghijkl/>", limits),
            Err(Error::TooLarge(10))
        ));
    }

    #[test]
    fn rejects_truncated_and_trailing_content() {
        assert!(Element::parse(b"<a><b></b>").is_err());
        assert!(Element::parse(b"<a/><b/>").is_err());
        assert!(Element::parse(b"<a/>\n").is_ok());
    }
}
