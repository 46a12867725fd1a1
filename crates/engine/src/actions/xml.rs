//! `XML` actions: `PARSE_XML` (output `{"object": …}`, as `JSON PARSE_JSON`) and `SERIALIZE_XML`
//! (output `{"xml": "…"}`), over one mapping between XML and JSON that each reverses:
//!
//! | XML | JSON |
//! |---|---|
//! | the document `<a>…</a>` | `{"a": …}`: one key, the root element's name |
//! | an element with neither attributes nor child elements | its text, a string (`""` when empty) |
//! | any other element | an object |
//! | attribute `id="7"` | key `"@id"`, always a string |
//! | child elements | a key per name; siblings of one name make an array, in document order |
//! | text beside attributes or child elements | key `"#text"` |
//!
//! Names are kept as written, prefixes included (`soap:Body`, `"@xmlns:soap"`). Text is never
//! converted (`42` stays `"42"`). In an element with child elements, text that is only whitespace
//! (indentation) is dropped, the rest is joined into `#text`; its place among the children is
//! not kept, nor the order of differently named children (JSON objects have no order).
//!
//! Serializing reads the same shapes back: an object of one key whose value is not an array is
//! the document; any other object becomes the content of a `<root>` element. Numbers and booleans
//! are written as text, `null` as an empty element. `#text` comes first, then child elements in
//! key order. So `parse(serialize(x)) == x` for every value `parse` can produce.
//!
//! Hostile input is refused, never expanded: no DTD internal subset (so no entity declarations:
//! billion laughs and external entities have nothing to work with), no entity but the five
//! predefined ones and character references, processing instructions ignored, nothing fetched;
//! and the limits below hold both ways.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;
use serde_json::{Map, Value, json};

use flowvault_core::XmlOp;

use super::{ActionError, Call};

/// The largest document read or written, in bytes (the execution record keeps outputs).
pub(crate) const MAX_XML: usize = 1024 * 1024;
/// How deep elements may nest. Each level can cost JSON two (an object and an array), and
/// stored records are read back by a JSON parser that stops at 128.
pub(crate) const MAX_DEPTH: usize = 32;
/// How many elements and attributes a document may have in all.
pub(crate) const MAX_NODES: usize = 100_000;

const TEXT: &str = "#text";
/// The element that holds an object that is not one element (`{"a": 1, "b": 2}`).
const ROOT: &str = "root";

pub(crate) fn run(op: XmlOp, call: &Call<'_>) -> Result<Value, ActionError> {
    match op {
        XmlOp::ParseXml => {
            let text = match call.params.get("xml") {
                Some(Value::String(s)) => s,
                None | Some(Value::Null) => return Err(ActionError::new("param `xml` is missing")),
                Some(_) => return Err(ActionError::new("param `xml` must be a string")),
            };
            Ok(json!({ "object": parse(text)? }))
        }
        XmlOp::SerializeXml => {
            let object = match call.params.get("object") {
                Some(Value::Object(m)) => m.clone(),
                Some(Value::String(s)) => from_json_text(s)?,
                None | Some(Value::Null) => {
                    return Err(ActionError::new("param `object` is missing"));
                }
                Some(_) => {
                    return Err(ActionError::new(
                        "param `object` must be an object, or JSON text of one",
                    ));
                }
            };
            Ok(json!({ "xml": serialize(&object)? }))
        }
    }
}

fn from_json_text(text: &str) -> Result<Map<String, Value>, ActionError> {
    if text.len() > MAX_XML {
        return Err(ActionError::new(format!("param `object` is larger than {MAX_XML} bytes")));
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ActionError::new("param `object` must be an object, or JSON text of one")),
        // serde_json's errors give the position, not the text.
        Err(e) => Err(ActionError::new(format!("param `object` is text that is not JSON: {e}"))),
    }
}

/// An element being read: what it has so far.
struct Open {
    name: String,
    object: Map<String, Value>,
    has_attributes: bool,
    children: Vec<(String, Value)>,
    /// Runs of text between tags, each whole (references resolved, CDATA included).
    runs: Vec<String>,
}

/// The document `text` as JSON: `{"<root name>": <root element>}`.
///
/// # Errors
/// [`ActionError`] saying what is wrong and where, or which limit it passed.
pub(crate) fn parse(text: &str) -> Result<Value, ActionError> {
    if text.len() > MAX_XML {
        return Err(ActionError::new(format!("param `xml` is larger than {MAX_XML} bytes")));
    }
    if let Some(c) = text.chars().find(|c| !is_xml_char(*c)) {
        return Err(refused(format!("it holds {}, which XML does not allow", code_point(c))));
    }
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut run = String::new();
    let mut root: Option<(String, Value)> = None;
    let mut nodes = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| {
            refused(format!("it is not well-formed at byte {}: {e}", reader.error_position()))
        })?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let name = start.name().0;
                return Err(refused(format!("<{name}> is a second root element")));
            }
            Event::Start(start) => {
                flush(&mut stack, &mut run);
                stack.push(open(&start, stack.len() + 1, &mut nodes)?);
            }
            Event::Empty(start) => {
                flush(&mut stack, &mut run);
                let element = open(&start, stack.len() + 1, &mut nodes)?;
                close(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                flush(&mut stack, &mut run);
                // The reader checks that end tags match their start tags.
                let Some(element) = stack.pop() else {
                    return Err(refused("an end tag closes nothing"));
                };
                close(element, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let content = t.xml_content(XmlVersion::Implicit1_0);
                if stack.is_empty() {
                    if !content.chars().all(is_xml_space) {
                        return Err(refused("it has text outside the root element"));
                    }
                } else {
                    run.push_str(&content);
                }
            }
            Event::CData(c) => {
                if stack.is_empty() {
                    return Err(refused("it has a CDATA section outside the root element"));
                }
                run.push_str(&c.xml_content(XmlVersion::Implicit1_0));
            }
            Event::GeneralRef(r) => {
                if stack.is_empty() {
                    return Err(refused("it has a reference outside the root element"));
                }
                run.push(reference(&r)?);
            }
            Event::DocType(d) => {
                if root.is_some() || !stack.is_empty() {
                    return Err(refused("it has a DOCTYPE inside the document"));
                }
                // An internal subset is where entities are declared: refused whole rather than
                // expanded with limits. An external DTD is never fetched.
                if d.contains('[') {
                    return Err(refused(
                        "it has a DOCTYPE with declarations, which are not accepted (entities are \
                         never expanded)",
                    ));
                }
            }
            // Declarations, comments and processing instructions carry no data here: read past,
            // never acted on.
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(refused(format!("it ends inside <{}>", open.name)));
    }
    let Some((name, value)) = root else { return Err(refused("it has no root element")) };
    let mut document = Map::new();
    document.insert(name, value);
    Ok(Value::Object(document))
}

fn refused(why: impl std::fmt::Display) -> ActionError {
    ActionError::new(format!("param `xml` is refused: {why}"))
}

fn open(start: &BytesStart<'_>, depth: usize, nodes: &mut usize) -> Result<Open, ActionError> {
    let name = start.name().0.to_owned();
    if !is_name(&name) {
        return Err(refused(format!("`{name}` is not an element name XML allows")));
    }
    if depth > MAX_DEPTH {
        return Err(refused(format!("elements nest deeper than {MAX_DEPTH} levels")));
    }
    count(nodes)?;
    let mut object = Map::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| refused(format!("in <{name}>: {e}")))?;
        let key = attribute.key.0;
        if !is_name(key) {
            return Err(refused(format!("`{key}` is not an attribute name XML allows")));
        }
        count(nodes)?;
        // Normalized as the XML spec says (a raw tab or newline reads as a space); only the
        // predefined entities and character references resolve.
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| refused(format!("attribute `{key}` of <{name}>: {e}")))?;
        if let Some(c) = value.chars().find(|c| !is_xml_char(*c)) {
            return Err(refused(format!("attribute `{key}` holds {}", code_point(c))));
        }
        if object.insert(format!("@{key}"), Value::String(value.into_owned())).is_some() {
            return Err(refused(format!("<{name}> has attribute `{key}` twice")));
        }
    }
    let has_attributes = !object.is_empty();
    Ok(Open { name, object, has_attributes, children: Vec::new(), runs: Vec::new() })
}

fn count(nodes: &mut usize) -> Result<(), ActionError> {
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(refused(format!("it has more than {MAX_NODES} elements and attributes")));
    }
    Ok(())
}

/// Ends the run of text before a tag: it belongs to the element open around it.
fn flush(stack: &mut [Open], run: &mut String) {
    // Text is only gathered inside an element, so there is one whenever the run is not empty.
    if let Some(open) = stack.last_mut().filter(|_| !run.is_empty()) {
        open.runs.push(std::mem::take(run));
    }
}

/// An element read to its end, as JSON, added to its parent (or made the root).
fn close(element: Open, stack: &mut [Open], root: &mut Option<(String, Value)>) {
    let Open { name, mut object, has_attributes, children, runs } = element;
    let text: String = if children.is_empty() {
        runs.concat()
    } else {
        runs.into_iter().filter(|r| !r.chars().all(is_xml_space)).collect()
    };
    let value = if !has_attributes && children.is_empty() {
        Value::String(text)
    } else {
        if !text.is_empty() {
            object.insert(TEXT.to_owned(), Value::String(text));
        }
        for (child, value) in children {
            // An element's value is never an array: an array here is siblings gathered already.
            match object.get_mut(&child) {
                None => {
                    object.insert(child, value);
                }
                Some(Value::Array(items)) => items.push(value),
                Some(first) => *first = Value::Array(vec![first.take(), value]),
            }
        }
        Value::Object(object)
    };
    match stack.last_mut() {
        Some(parent) => parent.children.push((name, value)),
        None => *root = Some((name, value)),
    }
}

/// `&amp;`, `&#60;`…: the five predefined entities and character references, nothing else.
fn reference(r: &BytesRef<'_>) -> Result<char, ActionError> {
    let name: &str = r;
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            Ok(Some(c)) => Err(refused(format!("`&{name};` is {}", code_point(c)))),
            _ => Err(refused(format!("`&{name};` is not a character reference"))),
        };
    }
    match name {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(refused(format!(
            "`&{name};` is not one of the five predefined entities (others are never expanded)"
        ))),
    }
}

/// `object` as an XML document (see the module's table).
///
/// # Errors
/// [`ActionError`] for a name XML does not allow, a value with no XML form (an array in an
/// array, an object as an attribute), a character XML cannot carry, or a limit passed.
pub(crate) fn serialize(object: &Map<String, Value>) -> Result<String, ActionError> {
    let mut writer = Writer { out: String::new(), nodes: 0 };
    let mut entries = object.iter();
    match (entries.next(), entries.next()) {
        (Some((name, value)), None)
            if !name.starts_with('@') && name != TEXT && !value.is_array() =>
        {
            writer.element(name, value, 1)?;
        }
        _ => writer.object(ROOT, object, 1)?,
    }
    Ok(writer.out)
}

struct Writer {
    out: String,
    nodes: usize,
}

impl Writer {
    fn element(&mut self, name: &str, value: &Value, depth: usize) -> Result<(), ActionError> {
        match value {
            Value::Object(m) => self.object(name, m, depth),
            Value::Array(_) => Err(unwritable(format!("`{name}` is an array inside an array"))),
            scalar => {
                self.start(name, depth)?;
                let text = scalar_text(scalar);
                if text.is_empty() {
                    self.out.push_str("/>");
                } else {
                    self.out.push('>');
                    self.text(&text, name)?;
                    self.end(name);
                }
                self.check_size()
            }
        }
    }

    fn object(
        &mut self,
        name: &str,
        object: &Map<String, Value>,
        depth: usize,
    ) -> Result<(), ActionError> {
        self.start(name, depth)?;
        for (key, value) in object {
            let Some(attribute) = key.strip_prefix('@') else { continue };
            if !is_name(attribute) {
                return Err(unwritable(format!(
                    "`{attribute}` is not an attribute name XML allows"
                )));
            }
            self.count()?;
            let text = match value {
                Value::Object(_) | Value::Array(_) => {
                    return Err(unwritable(format!(
                        "attribute `{key}` must be text, a number or a boolean"
                    )));
                }
                scalar => scalar_text(scalar),
            };
            self.out.push(' ');
            self.out.push_str(attribute);
            self.out.push_str("=\"");
            escape(&text, true, &mut self.out)
                .map_err(|c| unwritable(format!("attribute `{key}` holds {}", code_point(c))))?;
            self.out.push('"');
        }
        let text = match object.get(TEXT) {
            None | Some(Value::Null) => String::new(),
            Some(Value::Object(_) | Value::Array(_)) => {
                return Err(unwritable(format!(
                    "`#text` of `{name}` must be text, a number or a boolean"
                )));
            }
            Some(scalar) => scalar_text(scalar),
        };
        let mut children = object.iter().filter(|(k, _)| !k.starts_with('@') && *k != TEXT);
        let first = children.next();
        if text.is_empty() && first.is_none() {
            self.out.push_str("/>");
            return self.check_size();
        }
        self.out.push('>');
        self.text(&text, name)?;
        for (child, value) in first.into_iter().chain(children) {
            match value {
                Value::Array(items) => {
                    for item in items {
                        self.element(child, item, depth + 1)?;
                    }
                }
                single => self.element(child, single, depth + 1)?,
            }
        }
        self.end(name);
        self.check_size()
    }

    fn start(&mut self, name: &str, depth: usize) -> Result<(), ActionError> {
        if !is_name(name) {
            return Err(unwritable(format!("`{name}` is not an element name XML allows")));
        }
        if depth > MAX_DEPTH {
            return Err(unwritable(format!("it nests deeper than {MAX_DEPTH} elements")));
        }
        self.count()?;
        self.check_size()?;
        self.out.push('<');
        self.out.push_str(name);
        Ok(())
    }

    fn text(&mut self, text: &str, element: &str) -> Result<(), ActionError> {
        escape(text, false, &mut self.out)
            .map_err(|c| unwritable(format!("the text of `{element}` holds {}", code_point(c))))
    }

    fn end(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn count(&mut self) -> Result<(), ActionError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(unwritable(format!(
                "it has more than {MAX_NODES} elements and attributes"
            )));
        }
        Ok(())
    }

    /// Checked as the document grows, so an oversized object fails before it is all written.
    fn check_size(&self) -> Result<(), ActionError> {
        if self.out.len() > MAX_XML {
            return Err(unwritable(format!("the XML would be larger than {MAX_XML} bytes")));
        }
        Ok(())
    }
}

fn unwritable(why: impl std::fmt::Display) -> ActionError {
    ActionError::new(format!("param `object` can't be written as XML: {why}"))
}

/// A JSON scalar as XML text: strings as they are, numbers and booleans as JSON writes them,
/// `null` as nothing.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Appends `text` escaped for element content or, with `attribute`, a double-quoted attribute
/// value. Characters a parser would change are written as references: `\r` (line ends are
/// normalized) and, in attributes, tab and newline (which read back as spaces).
///
/// # Errors
/// The first character XML 1.0 cannot carry at all.
fn escape(text: &str, attribute: bool, out: &mut String) -> Result<(), char> {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#xA;"),
            '\t' if attribute => out.push_str("&#x9;"),
            c if is_xml_char(c) => out.push(c),
            c => return Err(c),
        }
    }
    Ok(())
}

fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// XML 1.0's `Char`: what a document may hold at all, raw or by reference.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// XML's whitespace (`S`): narrower than Unicode's.
fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// A name as XML 1.0 and XML Namespaces allow it: a `Name`, with at most one `:` between a
/// prefix and a local part that each start as a name does.
fn is_name(name: &str) -> bool {
    let (prefix, local) = match name.split_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, name),
    };
    let part = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
    };
    prefix.is_none_or(part) && part(local)
}

/// `NameStartChar` of XML 1.0 (fifth edition), less `:`, which [`is_name`] places.
fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// `NameChar` of XML 1.0, less `:`.
fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_xml_and_namespaces() {
        for good in ["a", "_x", "soap:Body", "xmlns:soap", "é-1.b", "日本", "a·b"] {
            assert!(is_name(good), "{good}");
        }
        for bad in ["", "1a", "-a", ".a", ":a", "a:", "a:b:c", "a:1", "a b", "a>", "#text", "@id"] {
            assert!(!is_name(bad), "{bad}");
        }
    }

    #[test]
    fn escaping_keeps_what_a_parser_would_change() {
        let mut out = String::new();
        escape("a&b<c>d\"e\r\n\t", false, &mut out).unwrap_or_else(|c| panic!("{c}"));
        assert_eq!(out, "a&amp;b&lt;c&gt;d\"e&#xD;\n\t");
        out.clear();
        escape("a\"b\r\n\tc", true, &mut out).unwrap_or_else(|c| panic!("{c}"));
        assert_eq!(out, "a&quot;b&#xD;&#xA;&#x9;c");
        assert_eq!(escape("bell\u{7}", false, &mut String::new()), Err('\u{7}'));
        assert_eq!(escape("\u{FFFE}", true, &mut String::new()), Err('\u{FFFE}'));
    }
}
