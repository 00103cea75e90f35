//! DeleteObjects: the XML body read with bounded size, depth and key count, no DTD and
//! no entity but XML's five and character references; each key is then authorized on
//! its own (`s3:DeleteObject`, or `s3:DeleteObjectVersion` with a version).
//!
//! AWS reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html>.

use super::addressing::check_key;
use super::error::ClassifyError;
use super::request::Authorization;
use crate::policy::Action;
use quick_xml::Reader;
use quick_xml::events::Event;
use std::fmt::Write as _;

/// Most keys one request may delete (as on S3).
pub const MAX_KEYS: usize = 1000;
/// Largest body accepted: 1000 keys of 1024 bytes, escaped, with versions.
pub const MAX_BODY: usize = 8 * 1024 * 1024;
/// The schema's depth (`Delete/Object/Key`): no deeper element is ever valid.
const MAX_DEPTH: usize = 3;

/// One object named in the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectId {
    pub key: String,
    pub version_id: Option<String>,
    /// Conditional-delete elements (`ETag`, `LastModifiedTime`, `Size`), kept as sent.
    pub conditions: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteObjects {
    pub quiet: bool,
    pub objects: Vec<ObjectId>,
}

/// Bounds on a DeleteObjects request (`limits.max_delete_keys`,
/// `limits.max_delete_body_bytes`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_keys: usize,
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_keys: MAX_KEYS,
            max_body: MAX_BODY,
        }
    }
}

fn bad(msg: impl Into<String>) -> ClassifyError {
    ClassifyError::MalformedXml(msg.into())
}

/// Parse a DeleteObjects body.
pub fn parse(
    body: &[u8],
    literal_keys: bool,
    limits: &Limits,
) -> Result<DeleteObjects, ClassifyError> {
    if body.len() > limits.max_body {
        return Err(ClassifyError::EntityTooLarge(format!(
            "the DeleteObjects body is larger than {} bytes",
            limits.max_body
        )));
    }
    // Text is never trimmed: a key is exactly what was sent, spaces included, so the
    // key authorized is the key the backend deletes.
    let mut reader = Reader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut quiet = false;
    let mut objects: Vec<ObjectId> = Vec::new();
    let mut current: Option<ObjectId> = None;
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| bad(format!("the XML is not well-formed: {e}")))?;
        match event {
            Event::DocType(_) => return Err(bad("a DTD is not allowed")),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Start(e) => {
                let name = AsRef::<str>::as_ref(&e.local_name()).to_owned();
                path.push(name);
                if path.len() > MAX_DEPTH {
                    return Err(bad("the XML is nested too deeply"));
                }
                text.clear();
                match path
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice()
                {
                    ["Delete"] if !seen_root => seen_root = true,
                    ["Delete", "Object"] => {
                        if objects.len() >= limits.max_keys {
                            return Err(bad(format!(
                                "at most {} keys may be deleted in one request",
                                limits.max_keys
                            )));
                        }
                        current = Some(ObjectId {
                            key: String::new(),
                            version_id: None,
                            conditions: Vec::new(),
                        });
                    }
                    ["Delete", "Quiet"]
                    | [
                        "Delete",
                        "Object",
                        "Key" | "VersionId" | "ETag" | "LastModifiedTime" | "Size",
                    ] => {}
                    other => return Err(bad(format!("unexpected element `{}`", other.join("/")))),
                }
            }
            Event::Empty(e) => {
                let name = AsRef::<str>::as_ref(&e.local_name()).to_owned();
                return Err(bad(format!("unexpected empty element `{name}`")));
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                if path.len() == 3 || path.last().is_some_and(|p| p == "Quiet") {
                    text.push_str(&content);
                } else if !content.trim().is_empty() {
                    return Err(bad("unexpected text between elements"));
                }
            }
            Event::CData(c) => text.push_str(c.as_ref()),
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    let c = r
                        .resolve_char_ref()
                        .ok()
                        .flatten()
                        .ok_or_else(|| bad("invalid character reference"))?;
                    text.push(c);
                } else {
                    text.push(match &*r {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(bad(format!("the entity `&{other};` is not allowed"))),
                    });
                }
            }
            Event::End(_) => {
                let names: Vec<&str> = path.iter().map(String::as_str).collect();
                match names.as_slice() {
                    ["Delete", "Quiet"] => {
                        quiet = match text.trim() {
                            "true" => true,
                            "false" => false,
                            other => {
                                return Err(bad(format!(
                                    "Quiet must be true or false, not `{other}`"
                                )));
                            }
                        }
                    }
                    ["Delete", "Object", field] => {
                        let obj = current
                            .as_mut()
                            .ok_or_else(|| bad("element outside an Object"))?;
                        let value = std::mem::take(&mut text);
                        if !value.chars().all(xml_char) {
                            // Not even as a character reference: the body the backend
                            // is sent could not name this object.
                            return Err(bad(format!(
                                "{field} has a character XML 1.0 does not allow"
                            )));
                        }
                        match *field {
                            "Key" => obj.key = value,
                            "VersionId" => obj.version_id = Some(value),
                            f => obj.conditions.push((f.to_owned(), value)),
                        }
                    }
                    ["Delete", "Object"] => {
                        let obj = current.take().ok_or_else(|| bad("unbalanced Object"))?;
                        if obj.key.is_empty() {
                            return Err(bad("an Object has no Key"));
                        }
                        check_key(&obj.key, literal_keys)?;
                        objects.push(obj);
                    }
                    _ => {}
                }
                path.pop();
                text.clear();
            }
            Event::Eof => break,
        }
    }
    if !seen_root || objects.is_empty() {
        return Err(bad(
            "the body must be a <Delete> with at least one <Object>",
        ));
    }
    Ok(DeleteObjects { quiet, objects })
}

/// A character XML 1.0 allows in a document (its `Char` production).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// The authorization each object needs, in body order.
pub fn authorizations(bucket: &str, request: &DeleteObjects) -> Vec<Authorization> {
    request
        .objects
        .iter()
        .filter_map(|o| {
            let name = if o.version_id.is_some() {
                "s3:DeleteObjectVersion"
            } else {
                "s3:DeleteObject"
            };
            Some(Authorization {
                action: Action::from_name(name)?,
                resource: format!("arn:aws:s3:::{bucket}/{}", o.key),
            })
        })
        .collect()
}

/// Escape text for an XML element. Control characters but `\n` and `\t` (a
/// literal-keys backend allows them in keys) are written as character references: a
/// parser normalizes a raw `\r` or `\r\n` to `\n`, which would name another key than
/// the one authorized.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// The body to send the backend with only the allowed objects.
pub fn render(request: &DeleteObjects, keep: &[bool]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    if request.quiet {
        s.push_str("<Quiet>true</Quiet>");
    }
    for (o, _) in request.objects.iter().zip(keep).filter(|(_, k)| **k) {
        s.push_str("<Object><Key>");
        s.push_str(&escape(&o.key));
        s.push_str("</Key>");
        if let Some(v) = &o.version_id {
            s.push_str("<VersionId>");
            s.push_str(&escape(v));
            s.push_str("</VersionId>");
        }
        for (name, value) in &o.conditions {
            s.push_str(&format!("<{name}>{}</{name}>", escape(value)));
        }
        s.push_str("</Object>");
    }
    s.push_str("</Delete>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `delete_objects` fuzz target: a key of NUL characters was accepted
    /// (literal keys) and written back as `&#0;`, which no XML parser reads.
    #[test]
    fn characters_xml_cannot_carry_are_refused_and_control_characters_round_trip() {
        for body in [
            "<Delete><Object><Key>a\u{0}b</Key></Object></Delete>",
            "<Delete><Object><Key>a&#0;b</Key></Object></Delete>",
            "<Delete><Object><Key>a&#1;b</Key></Object></Delete>",
            "<Delete><Object><Key>a</Key><VersionId>\u{FFFF}</VersionId></Object></Delete>",
        ] {
            assert!(
                matches!(
                    parse(body.as_bytes(), true, &Limits::default()),
                    Err(ClassifyError::MalformedXml(_))
                ),
                "{body:?}"
            );
        }
        let d = parse(
            b"<Delete><Object><Key>a&#13;b\tc&#x7f;</Key></Object></Delete>",
            true,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(d.objects[0].key, "a\rb\tc\u{7f}");
        let sent = render(&d, &[true]);
        assert!(sent.contains("<Key>a&#13;b\tc&#127;</Key>"), "{sent}");
        assert_eq!(parse(sent.as_bytes(), true, &Limits::default()).unwrap(), d);
    }

    #[test]
    fn documentation_example() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Quiet>true</Quiet>
  <Object><Key>sample1.txt</Key></Object>
  <Object><Key>sample2.txt</Key><VersionId>OYcLXagmS.WaD..oyH4KRguB95_YhLs7</VersionId></Object>
  <Object><Key>a &amp; b &#x263A;<![CDATA[<c>]]></Key><ETag>"abc"</ETag></Object>
  <Object><Key>  spaced key  </Key></Object>
</Delete>"#;
        let d = parse(body, false, &Limits::default()).unwrap();
        assert!(d.quiet);
        assert_eq!(d.objects.len(), 4);
        assert_eq!(d.objects[2].key, "a & b \u{263A}<c>");
        assert_eq!(d.objects[3].key, "  spaced key  ");
        let auth = authorizations("b1", &d);
        assert_eq!(auth[0].action.to_string(), "s3:DeleteObject");
        assert_eq!(auth[1].action.to_string(), "s3:DeleteObjectVersion");
        assert_eq!(auth[2].resource, "arn:aws:s3:::b1/a & b \u{263A}<c>");
        let again = parse(
            render(&d, &[true, false, true, true]).as_bytes(),
            false,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            again.objects,
            vec![
                d.objects[0].clone(),
                d.objects[2].clone(),
                d.objects[3].clone()
            ]
        );
    }

    #[test]
    fn hostile_bodies() {
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><Delete><Object><Key>&lol2;</Key></Object></Delete>"#;
        assert!(
            matches!(parse(bomb, false, &Limits::default()), Err(ClassifyError::MalformedXml(m)) if m.contains("DTD"))
        );
        let entity = b"<Delete><Object><Key>&xxe;</Key></Object></Delete>";
        assert!(
            matches!(parse(entity, false, &Limits::default()), Err(ClassifyError::MalformedXml(m)) if m.contains("entity"))
        );
        let deep = b"<Delete><Object><Key><a>x</a></Key></Object></Delete>";
        assert!(parse(deep, false, &Limits::default()).is_err());
        let many: String = (0..=MAX_KEYS)
            .map(|i| format!("<Object><Key>k{i}</Key></Object>"))
            .collect();
        assert!(
            matches!(parse(format!("<Delete>{many}</Delete>").as_bytes(), false, &Limits::default()), Err(ClassifyError::MalformedXml(m)) if m.contains("at most 1000"))
        );
        assert!(matches!(
            parse(&vec![b' '; MAX_BODY + 1], false, &Limits::default()),
            Err(ClassifyError::EntityTooLarge(_))
        ));
        for bad_body in [
            &b"<Delete></Delete>"[..],
            b"<Delete><Object></Object></Delete>",
            b"<Other/>",
            b"<Delete><Object><Key>a</Key>",
            b"not xml",
            b"<Delete><Quiet>yes</Quiet><Object><Key>a</Key></Object></Delete>",
            b"<Delete><Object><Key>a/../b</Key></Object></Delete>",
            b"<Delete><Object><Key>a</Key></Object></Delete><Delete/>",
        ] {
            assert!(
                parse(bad_body, false, &Limits::default()).is_err(),
                "{}",
                String::from_utf8_lossy(bad_body)
            );
        }
    }
}
