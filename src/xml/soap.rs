//! SOAP 1.1 envelope and fault, in the exact shape real WSUS sends (wsusss.md §1.2, §4).

use super::{Element, Error, Limits, Writer};

pub const NS_SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Wrap a body element in an envelope, as WSUS does: XML declaration, `soap:` prefix with
/// xsi/xsd declared, one line.
pub fn envelope(body: &str) -> String {
    let mut s = String::with_capacity(body.len() + 300);
    s.push_str(r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>"#);
    s.push_str(body);
    s.push_str("</soap:Body></soap:Envelope>");
    s
}

/// A SOAP fault with the WSUS `detail` children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fault {
    /// `soap:Client` or `soap:Server` (local part only: `Client` / `Server`).
    pub code: String,
    pub string: String,
    /// `detail/ErrorCode` (e.g. `InvalidCookie`); `None` when the fault has none.
    pub error_code: Option<String>,
    pub message: Option<String>,
    pub id: Option<String>,
    pub method: Option<String>,
}

impl Fault {
    /// A WSUS-style fault: `faultstring` "Fault occurred", the ErrorCode in `detail`.
    pub fn wsus(server_side: bool, error_code: &str, message: &str, method: &str) -> Self {
        Self {
            code: if server_side { "Server" } else { "Client" }.into(),
            string: "Fault occurred".into(),
            error_code: Some(error_code.into()),
            message: Some(message.into()),
            id: Some(uuid::Uuid::new_v4().to_string()),
            method: Some(format!("\"{method}\"")),
        }
    }

    /// A fault without WSUS detail (unknown operation, malformed request).
    pub fn plain(server_side: bool, string: &str) -> Self {
        Self {
            code: if server_side { "Server" } else { "Client" }.into(),
            string: string.into(),
            ..Self::default()
        }
    }

    /// The full envelope, as sent with HTTP 500.
    pub fn to_envelope(&self) -> String {
        let mut w = Writer::new();
        w.open("soap:Fault")
            .leaf("faultcode", format!("soap:{}", self.code))
            .leaf("faultstring", &self.string);
        if self.error_code.is_some() {
            w.open("detail")
                .opt_leaf("ErrorCode", self.error_code.as_deref())
                .leaf("Message", self.message.as_deref().unwrap_or(""))
                .opt_leaf("ID", self.id.as_deref())
                .opt_leaf("Method", self.method.as_deref())
                .close("detail");
        }
        w.close("soap:Fault");
        envelope(&w.finish())
    }

    /// Read a `Fault` element (SOAP 1.1 or 1.2 layout). The ErrorCode is looked for under
    /// `detail`/`Detail` in any namespace, else by substring of the fault string.
    pub fn from_element(el: &Element) -> Self {
        let code = el
            .find("faultcode")
            .or_else(|| el.path(&["Code", "Value"]))
            .map(|c| c.text.trim().rsplit(':').next().unwrap_or("").to_owned())
            .unwrap_or_default();
        let string = el
            .child("faultstring")
            .or_else(|| el.path(&["Reason", "Text"]))
            .map(|s| s.text.clone())
            .unwrap_or_default();
        let detail = el.child("detail").or_else(|| el.child("Detail"));
        let field = |name: &str| {
            detail
                .and_then(|d| d.find(name))
                .map(|e| e.text.trim().to_owned())
        };
        let error_code = field("ErrorCode").filter(|c| !c.is_empty()).or_else(|| {
            KNOWN_CODES
                .iter()
                .find(|c| string.contains(*c))
                .map(|c| (*c).to_owned())
        });
        Self {
            code,
            string,
            error_code,
            message: field("Message"),
            id: field("ID"),
            method: field("Method"),
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.error_code, &self.message) {
            (Some(c), Some(m)) if !m.is_empty() => write!(f, "{c} ({m})"),
            (Some(c), _) => f.write_str(c),
            (None, _) => write!(f, "fault without ErrorCode: {}", self.string),
        }
    }
}

/// ErrorCodes a fault string may name when `detail` is missing (MS-lib matches by substring).
const KNOWN_CODES: &[&str] = &[
    "InvalidAuthorizationCookie",
    "InvalidCookie",
    "CookieExpired",
    "ServerChanged",
    "ServerBusy",
    "InvalidParameters",
    "IncompatibleProtocolVersion",
    "InternalServerError",
    "FileDigestsMissing",
];

/// What a SOAP body held: the operation element or a fault.
#[derive(Debug)]
pub enum Body {
    Message(Element),
    Fault(Fault),
}

/// Parse an envelope and return the first element inside `soap:Body`.
pub fn parse(input: &[u8], limits: Limits) -> Result<Body, Error> {
    let root = Element::parse_with(input, limits)?;
    if root.name != "Envelope" {
        return Err(Error::NotSoap("root is not Envelope"));
    }
    let body = root
        .children
        .iter()
        .find(|c| c.name == "Body")
        .ok_or(Error::NotSoap("no Body"))?;
    let first = body.children.first().ok_or(Error::NotSoap("empty Body"))?;
    if first.name == "Fault" {
        return Ok(Body::Fault(Fault::from_element(first)));
    }
    Ok(Body::Message(first.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_round_trips_through_the_wsus_shape() {
        let f = Fault::wsus(
            false,
            "InvalidParameters",
            "filter",
            "http://www.microsoft.com/SoftwareDistribution/GetRevisionIdList",
        );
        let xml = f.to_envelope();
        match parse(xml.as_bytes(), Limits::default()).unwrap() {
            Body::Fault(g) => assert_eq!(g, f),
            Body::Message(_) => panic!("expected a fault"),
        }
    }

    #[test]
    fn fault_code_found_in_the_fault_string_when_detail_is_missing() {
        let xml = envelope("<soap:Fault><faultcode>soap:Client</faultcode><faultstring>Exception: ServerChanged</faultstring></soap:Fault>");
        let Body::Fault(f) = parse(xml.as_bytes(), Limits::default()).unwrap() else {
            panic!("expected a fault")
        };
        assert_eq!(f.error_code.as_deref(), Some("ServerChanged"));
        assert_eq!(f.code, "Client");
    }

    #[test]
    fn non_envelopes_are_errors() {
        assert!(parse(b"<a/>", Limits::default()).is_err());
        assert!(parse(envelope("").as_bytes(), Limits::default()).is_err());
    }
}
