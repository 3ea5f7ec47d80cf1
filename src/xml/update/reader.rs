//! The hardened event loop over quick-xml's `NsReader`. It applies `xml::tree`'s rules in the
//! same order, event by event, so that a document is refused here exactly when the tree reader
//! refuses it (and with the same error): size limit, element count, depth, undeclared element
//! prefixes, malformed or duplicated attributes, bad character or entity references, DOCTYPE,
//! text outside the root, content after the root, truncation.
//!
//! Elements cost no allocation of their own: names are compared as the reader's byte slices,
//! and only the attribute values the collector asks for are unescaped, into strings borrowed
//! from the input unless they hold a reference.

use super::collect::{Collector, Ctx};
use super::DOC_LIMITS;
use crate::xml::tree::{finish, namespace};
use crate::xml::Error;
use quick_xml::encoding::Decoder;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::NsReader;
use std::borrow::Cow;

/// Most attributes the collector wants from one element (`File`).
const MAX_WANTED: usize = 5;
/// Attributes of one element checked for duplicates without allocating (real elements have
/// at most a dozen).
const MAX_CHECKED: usize = 16;

/// Read a whole document into a `Collector`.
pub(super) fn scan(xml: &str) -> Result<Collector, Error> {
    if xml.len() > DOC_LIMITS.max_bytes {
        return Err(Error::TooLarge(DOC_LIMITS.max_bytes));
    }
    let mut reader = NsReader::from_str(xml);
    let decoder = reader.decoder();
    let mut doc = Collector::default();
    // Context of each open element; its length is the current depth.
    let mut stack: Vec<Ctx> = Vec::with_capacity(16);
    let mut count = 0usize;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(Error::syntax)?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                count += 1;
                DOC_LIMITS.check_open(count, stack.len())?;
                let ns = namespace(resolved)?;
                let local = e.local_name();
                let role = match stack.last() {
                    Some(&parent) => doc.role(parent, ns, local.as_ref()),
                    None => doc.root(ns, local.as_ref()),
                };
                let attrs = Attrs::read(e, decoder, role.wanted())?;
                let ctx = doc.open(role, &attrs);
                if matches!(event, Event::Start(_)) {
                    stack.push(ctx);
                    continue;
                }
                doc.close(ctx);
                if stack.is_empty() {
                    finish(&mut reader)?;
                    return Ok(doc);
                }
            }
            Event::End(_) => {
                let ctx = stack
                    .pop()
                    .ok_or(Error::Syntax("unbalanced end tag".into()))?;
                doc.close(ctx);
                if stack.is_empty() {
                    finish(&mut reader)?;
                    return Ok(doc);
                }
            }
            Event::Text(t) => match stack.last() {
                Some(&ctx) => match doc.text_sink(ctx) {
                    Some(sink) => sink.push_str(&t.unescape().map_err(Error::syntax)?),
                    // Unused text is still checked: only a reference can make it invalid.
                    None if t.contains(&b'&') => {
                        t.unescape().map_err(Error::syntax)?;
                    }
                    None => {}
                },
                None if !t.iter().all(u8::is_ascii_whitespace) => {
                    return Err(Error::Syntax("text outside the root element".into()))
                }
                None => {}
            },
            Event::CData(t) => {
                if let Some(sink) = stack.last().and_then(|&ctx| doc.text_sink(ctx)) {
                    sink.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::DocType(_) => return Err(Error::DocType),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => return Err(Error::Syntax("unexpected end of document".into())),
        }
    }
}

/// The unescaped values of the attributes a collector asked for, by local name (namespace
/// dropped, as `xml::Element` does); the first of several with one local name wins.
pub(super) struct Attrs<'e> {
    wanted: &'static [&'static [u8]],
    values: [Option<Cow<'e, str>>; MAX_WANTED],
}

impl<'e> Attrs<'e> {
    /// Read every attribute of `e`, checking each as the tree reader does (syntax, duplicates,
    /// references), and keep the `wanted` ones.
    fn read(
        e: &'e BytesStart<'_>,
        decoder: Decoder,
        wanted: &'static [&'static [u8]],
    ) -> Result<Self, Error> {
        // quick-xml's duplicate check allocates a list of keys per element; keys are compared
        // here in a fixed array instead, and quick-xml's checked iterator only runs (for its
        // exact error) when there is a duplicate, or more attributes than the array holds.
        let mut keys: [&[u8]; MAX_CHECKED] = [&[]; MAX_CHECKED];
        let mut attrs = Attrs::new(wanted);
        for (n, attr) in e.attributes().with_checks(false).enumerate() {
            let attr = attr.map_err(Error::syntax)?;
            let key = attr.key.into_inner();
            if n == MAX_CHECKED || keys[..n].contains(&key) {
                return Self::read_checked(e, decoder, wanted);
            }
            keys[n] = key;
            attrs.keep(attr, decoder)?;
        }
        Ok(attrs)
    }

    /// `read` with quick-xml's own duplicate check.
    fn read_checked(
        e: &'e BytesStart<'_>,
        decoder: Decoder,
        wanted: &'static [&'static [u8]],
    ) -> Result<Self, Error> {
        let mut attrs = Attrs::new(wanted);
        for attr in e.attributes() {
            attrs.keep(attr.map_err(Error::syntax)?, decoder)?;
        }
        Ok(attrs)
    }

    fn new(wanted: &'static [&'static [u8]]) -> Self {
        debug_assert!(wanted.len() <= MAX_WANTED);
        Attrs {
            wanted,
            values: Default::default(),
        }
    }

    /// Check one attribute and keep its value if it is wanted and the first of its name.
    fn keep(&mut self, attr: Attribute<'e>, decoder: Decoder) -> Result<(), Error> {
        if attr.key.as_namespace_binding().is_some() {
            return Ok(());
        }
        let local = attr.key.local_name();
        let slot = self.wanted.iter().position(|w| *w == local.as_ref());
        // Unescaping is what validates references; without a `&` it cannot fail.
        if slot.is_none() && !attr.value.contains(&b'&') {
            return Ok(());
        }
        let value = attr
            .decode_and_unescape_value(decoder)
            .map_err(Error::syntax)?;
        if let Some(i) = slot {
            self.values[i].get_or_insert(value);
        }
        Ok(())
    }

    /// Value of a wanted attribute (`name` must be one of the wanted names).
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        let i = self.wanted.iter().position(|w| *w == name.as_bytes());
        debug_assert!(i.is_some(), "attribute {name} was not asked for");
        i.and_then(|i| self.values[i].as_deref())
    }
}
