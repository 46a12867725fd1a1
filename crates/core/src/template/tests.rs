//! The language as a whole: tables of templates and what they render to or why they fail.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

struct Data {
    fields: Value,
    vars: Value,
    context: Value,
    actions: Value,
}

impl Data {
    fn new() -> Self {
        Data {
            fields: json!({
                "name": "Ada",
                "email": "ada@example.com",
                "n": 42,
                "f": 3.0,
                "obj": {"a": [1, 2]},
                "list": ["x", "y"],
                "empty": "",
                "card": "4111111111111111",
                "secret": "SECRET-abc",
                "spaced key": "sp",
                "padded": "  hi  ",
                "mixed": "MiXeD",
                "url": "a b&c=d/é",
                "flag": "true",
                "tags": ["auth0", "identity", "authentication"],
                "date": "2021-04-30T10:02:50.876Z",
            }),
            vars: json!({"counter": 3}),
            context: json!({"user": {"user_id": "auth0|1", "email": "u@example.com"}}),
            actions: json!({
                "send_sms": {"sid": "SM1"},
                "lookup": {"response": {"body": {"items": [{"id": "i-1"}]}}},
            }),
        }
    }

    fn scope(&self) -> TemplateScope<'_> {
        TemplateScope {
            fields: &self.fields,
            vars: &self.vars,
            context: &self.context,
            actions: &self.actions,
            now: now(),
        }
    }
}

fn now() -> Timestamp {
    "2026-11-26T09:30:00.125Z".parse().unwrap_or_else(|_| unreachable!())
}

fn parse(src: &str) -> Template {
    Template::parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"))
}

fn render(src: &str) -> Result<Value, EvalError> {
    parse(src).render(&Data::new().scope())
}

#[test]
fn renders_the_table() {
    let cases = [
        // Static text, interpolation and raw values.
        ("plain text }} with a lone close", json!("plain text }} with a lone close")),
        ("", json!("")),
        ("{{fields.n}}", json!(42)),
        ("{{ fields.obj }}", json!({"a": [1, 2]})),
        ("{{fields.missing}}", Value::Null),
        ("Hi {{fields.name}}!", json!("Hi Ada!")),
        (" {{fields.n}}", json!(" 42")),
        (
            "n={{fields.n}} f={{fields.f}} obj={{fields.obj}} none=[{{fields.missing}}] {{true}}",
            json!(r#"n=42 f=3 obj={"a":[1,2]} none=[] true"#),
        ),
        // Fallbacks.
        ("{{ fields.missing ?? vars.nope.deeper ?? 'default' }}", json!("default")),
        ("{{ fields.missing ?? fields.n ?? 'default' }}", json!(42)),
        ("{{ fields.empty ?? 'x' }}", json!("")),
        ("{{ null ?? fields.missing }}", Value::Null),
        // Paths.
        ("{{context.user.user_id}}", json!("auth0|1")),
        ("{{actions.send_sms.sid}}", json!("SM1")),
        ("{{actions.lookup.response.body.items[0].id}}", json!("i-1")),
        ("{{ fields[\"spaced key\"] }}-{{ fields['spaced key'] }}", json!("sp-sp")),
        ("{{fields.list[1]}}", json!("y")),
        ("{{fields.list[5]}}", Value::Null),
        ("{{fields.name.deeper[0]}}", Value::Null),
        ("{{ fields . obj [ 'a' ] [ 1 ] }}", json!(2)),
        // Literals.
        (r"{{ 'it\'s' }}", json!("it's")),
        (r#"{{ "a\\b\n\"q\"" }}"#, json!("a\\b\n\"q\"")),
        ("{{ -1.5 }}", json!(-1.5)),
        ("{{ 7 }}", json!(7)),
        ("{{true}}{{false}}", json!("truefalse")),
        ("{{ null }}", Value::Null),
        // Functions.
        ("{{functions.toString(fields.n)}}", json!("42")),
        ("{{functions.toString(fields.obj)}}", json!(r#"{"a":[1,2]}"#)),
        ("{{functions.toString(fields.missing)}}", json!("")),
        ("{{functions.toString(true)}}", json!("true")),
        ("{{functions.toNumber('12')}}", json!(12)),
        ("{{functions.toNumber(' 1.5 ')}}", json!(1.5)),
        ("{{functions.toNumber(true)}}", json!(1)),
        ("{{functions.toNumber(fields.n)}}", json!(42)),
        ("{{functions.toNumber(fields.f)}}", json!(3)),
        ("{{functions.toBoolean('true')}}", json!(true)),
        ("{{functions.toBoolean(' FALSE ')}}", json!(false)),
        ("{{functions.toBoolean(0)}}", json!(false)),
        ("{{functions.toBoolean(2)}}", json!(true)),
        ("{{functions.toBoolean(fields.flag)}}", json!(true)),
        ("{{functions.toBoolean(fields.missing)}}", json!(false)),
        ("{{functions.mask(fields.card)}}", json!("4111111111111111")),
        ("{{functions.mask(123456)}}", json!(123456)),
        (
            "{{functions.sha256('abc')}}",
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ),
        (
            "{{functions.sha256(fields.n)}}",
            json!("73475cb40a568e8da8a045ced110137e159f890ac4da883b6b17dc651b3a8049"),
        ),
        (
            "{{functions.sha256(fields.missing)}}",
            json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ),
        ("{{functions.now()}}", json!("2026-11-26T09:30:00.125Z")),
        ("{{functions.encodeURIComponent(fields.url)}}", json!("a%20b%26c%3Dd%2F%C3%A9")),
        ("{{functions.encodeURIComponent(\"-_.!~*'()aZ09\")}}", json!("-_.!~*'()aZ09")),
        ("{{functions.encodeURIComponent('?#+%')}}", json!("%3F%23%2B%25")),
        ("{{functions.lowercase(fields.mixed)}}", json!("mixed")),
        ("{{functions.uppercase(fields.mixed)}}", json!("MIXED")),
        ("{{functions.trim(fields.padded)}}", json!("hi")),
        ("{{functions.length('héllo')}}", json!(5)),
        ("{{functions.length(fields.list)}}", json!(2)),
        ("{{functions.length(fields.obj)}}", json!(1)),
        ("{{functions.length(fields.missing)}}", json!(0)),
        ("{{functions.substring('hello', 1, 3)}}", json!("el")),
        ("{{functions.substring('hello', 3)}}", json!("lo")),
        ("{{functions.substring('hello', 3, 1)}}", json!("el")),
        ("{{functions.substring('hello', -2, 99)}}", json!("hello")),
        ("{{functions.substring('hello', '1', null)}}", json!("ello")),
        ("{{functions.substring('héllo', 1, 2)}}", json!("é")),
        ("{{functions.replaceAll('a-b-c', '-', '+')}}", json!("a+b+c")),
        ("{{functions.replaceAll(fields.n, 2, '')}}", json!("4")),
        ("{{functions.toArray(fields.list)}}", json!(["x", "y"])),
        ("{{functions.toArray(fields.missing)}}", json!([])),
        ("{{functions.toArray(fields.n)}}", json!([42])),
        ("{{functions.random(5, 5)}}", json!(5)),
        ("{{functions.random(5, 5, false)}}", json!(5)),
        ("{{functions.random(5, 5, fields.missing)}}", json!(5)),
        ("{{functions.random(5, 5, true)}}", json!(5)),
        ("{{functions.random(1.5, '1.5', 'true')}}", json!(1.5)),
        // The functions added to match Auth0's list, with its examples first.
        ("{{ functions.slice( 'example', 3, 5) }}", json!("mp")),
        ("{{functions.slice('example', 3)}}", json!("mple")),
        ("{{functions.slice('example', -3)}}", json!("ple")),
        ("{{functions.slice('example', -3, -1)}}", json!("pl")),
        ("{{functions.slice('example', 5, 3)}}", json!("")),
        ("{{functions.slice('example', null, '2')}}", json!("ex")),
        ("{{functions.slice('héllo', 1, 2)}}", json!("é")),
        ("{{functions.slice(12345, 1, 3)}}", json!("23")),
        ("{{functions.slice(fields.missing, 0, 2)}}", json!("")),
        ("{{functions.slice(fields.tags, 1)}}", json!(["identity", "authentication"])),
        ("{{functions.slice(fields.tags, -1)}}", json!(["authentication"])),
        ("{{functions.slice(fields.tags, 0, -1)}}", json!(["auth0", "identity"])),
        ("{{functions.slice(fields.tags, 9)}}", json!([])),
        ("{{ functions.toTimestamp() }}", json!(1_795_685_400)),
        ("{{ functions.toTimestamp('2021-04-30T10:02:50.876Z') }}", json!(1_619_776_970)),
        ("{{functions.toTimestamp(fields.date)}}", json!(1_619_776_970)),
        ("{{functions.toTimestamp('2021-04-30')}}", json!(1_619_740_800)),
        ("{{functions.toTimestamp('2021-04-30T12:02:50+02:00')}}", json!(1_619_776_970)),
        ("{{functions.toTimestamp(functions.now())}}", json!(1_795_685_400)),
        ("{{functions.toTimestamp(fields.missing)}}", json!(1_795_685_400)),
        ("{{ functions.replace('2021-04-30', '-', '/') }}", json!("2021/04-30")),
        ("{{ functions.replaceAll('2021-04-30', '-', '/') }}", json!("2021/04/30")),
        ("{{functions.replace('abc', '', '-')}}", json!("-abc")),
        ("{{functions.replace('abc', 'x', 'y')}}", json!("abc")),
        ("{{functions.replace(fields.n, 4, fields.missing)}}", json!("2")),
        ("{{ functions.split('2021-04-30', '-') }}", json!(["2021", "04", "30"])),
        ("{{functions.split('2021-04-30', '-', 2)}}", json!(["2021", "04"])),
        ("{{functions.split('2021-04-30', '-', 0)}}", json!([])),
        ("{{functions.split('héé', '')}}", json!(["h", "é", "é"])),
        ("{{functions.split('', '')}}", json!([])),
        ("{{functions.split('', ',')}}", json!([""])),
        ("{{functions.split('a,b', fields.missing)}}", json!(["a,b"])),
        ("{{functions.split(fields.n, '')}}", json!(["4", "2"])),
        ("{{ functions.includes(fields.tags, 'identity') }}", json!(true)),
        ("{{functions.includes(fields.tags, 'Identity')}}", json!(false)),
        ("{{functions.includes(fields.tags, 'auth0', 1)}}", json!(false)),
        ("{{functions.includes(fields.tags, 'authentication', -1)}}", json!(true)),
        ("{{functions.includes(fields.obj.a, 2.0)}}", json!(true)),
        ("{{functions.includes(fields.obj.a, '2')}}", json!(false)),
        ("{{functions.includes(fields.email, '@example.')}}", json!(true)),
        ("{{functions.includes(fields.email, 'ada', 1)}}", json!(false)),
        ("{{functions.includes(fields.email, fields.missing)}}", json!(false)),
        ("{{functions.includes(fields.missing, 'a')}}", json!(false)),
        ("{{ functions.indexOf(fields.tags, 'identity') }}", json!(1)),
        ("{{functions.indexOf(fields.tags, 'nope')}}", json!(-1)),
        ("{{functions.indexOf(fields.list, 'x', -1)}}", json!(-1)),
        ("{{functions.indexOf('héllo', 'l')}}", json!(2)),
        ("{{functions.indexOf('héllo', 'l', 3)}}", json!(3)),
        ("{{functions.indexOf('héllo', 'l', -9)}}", json!(2)),
        ("{{functions.indexOf('héllo', '')}}", json!(0)),
        ("{{functions.indexOf(fields.missing, 'a')}}", json!(-1)),
        (
            "{{ functions.merge(functions.slice(fields.tags, 0, 2), functions.slice(fields.tags, \
             2)) }}",
            json!(["auth0", "identity", "authentication"]),
        ),
        ("{{functions.merge(fields.list, fields.obj.a)}}", json!(["x", "y", 1, 2])),
        ("{{functions.merge(fields.list, fields.missing)}}", json!(["x", "y"])),
        (
            "{{functions.merge(fields.obj, context.user)}}",
            json!({"a": [1, 2], "user_id": "auth0|1", "email": "u@example.com"}),
        ),
        (
            "{{functions.merge(context.user, actions.send_sms)}}",
            json!({"user_id": "auth0|1", "email": "u@example.com", "sid": "SM1"}),
        ),
        ("{{functions.merge(fields.name, fields.n)}}", json!("Ada42")),
        ("{{functions.merge('a', 'b')}}", json!("ab")),
        ("{{functions.md5('auth0')}}", json!("7bbb59770ba3cf6e020790ba5b77e75a")),
        ("{{functions.md5(fields.missing)}}", json!("d41d8cd98f00b204e9800998ecf8427e")),
        ("{{functions.sha1('auth0')}}", json!("b4ec5339db0cc23405c6fd16e113839114f0a07f")),
        ("{{functions.sha1(fields.n)}}", json!("92cfceb39d57d914ed8b14d0e37643de0797ae56")),
        (
            "{{functions.sha256('auth0')}}",
            json!("d9082bdcf7eaf584e640203ff313a74a401cab4bc2167979eedc76a0019c0334"),
        ),
        (
            "{{functions.sha512('auth0')}}",
            json!(
                "c0d588069d056c337602b6037034bcab7b29f4ea0c325f665c089aba4c15c23a7baad6874668558\
                 5b17cf68f3832eb1049e6fe777860329f72254a8f3e756192"
            ),
        ),
        // Nesting and whitespace.
        (
            "{{functions.uppercase(functions.substring(fields.missing ?? 'abcdef', 0, \
             functions.length('abc')))}}",
            json!("ABC"),
        ),
        ("{{\n  functions.trim (\n\tfields.padded\n  )\n}}", json!("hi")),
        ("{{ functions.toString(functions.toArray(vars.counter ?? 0)) }}", json!("[3]")),
        ("{{ functions.indexOf(functions.split(fields.email, '@'), 'example.com') }}", json!(1)),
        ("{{functions.includes(functions.merge(fields.list, fields.tags), 'auth0')}}", json!(true)),
        ("{{functions.length(functions.split(fields.date, 'T'))}}", json!(2)),
    ];
    for (src, want) in cases {
        assert_eq!(render(src), Ok(want), "{src:?}");
    }
}

#[test]
fn uuid_and_random_draw_fresh_values() {
    let (Ok(Value::String(a)), Ok(Value::String(b))) =
        (render("{{functions.uuid()}}"), render("{{ functions.uuid( ) }}"))
    else {
        panic!("uuid() did not render to a string")
    };
    assert_ne!(a, b);
    assert_eq!(a.len(), 36);
    assert_eq!(a.matches('-').count(), 4);
    for _ in 0..50 {
        match render("{{functions.random(1, '6')}}") {
            Ok(Value::Number(n)) => assert!(matches!(n.as_i64(), Some(1..=6)), "{n}"),
            other => panic!("{other:?}"),
        }
    }
    let mut fractions = 0;
    for _ in 0..50 {
        match render("{{functions.random(0, 6, true)}}") {
            Ok(Value::Number(n)) => {
                let f = n.as_f64().unwrap_or(-1.0);
                assert!((0.0..=6.0).contains(&f), "{n}");
                fractions += usize::from(f.fract() != 0.0);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(fractions > 40, "{fractions} of 50 draws had a fraction");
}

#[test]
fn rejects_the_error_table_with_positions() {
    let known = "toString, toNumber, toBoolean, toArray, toTimestamp, mask, md5, sha1, sha256, \
                 sha512, uuid, random, now, encodeURIComponent, lowercase, uppercase, trim, \
                 length, substring, slice, replace, replaceAll, split, includes, indexOf, merge";
    let unknown_fn = format!("unknown function `foo` (known: {known})");
    let user = "unknown root `user`: expected fields, vars, context, actions or functions";
    let actions = "expected an action id after `actions`, as in `actions.my_action`";
    let cases: &[(&str, usize, usize, &str)] = &[
        ("{{ fields.a", 1, 1, "unclosed `{{`"),
        ("ab {{ fields.a }} {{", 1, 19, "unclosed `{{`"),
        ("{{ functions.trim(", 1, 1, "unclosed `{{`"),
        ("{{ user.name }}", 1, 4, user),
        ("Hello\n  {{ user.name }}", 2, 6, user),
        (
            "héllo {{ bad }}",
            1,
            10,
            "unknown root `bad`: expected fields, vars, context, actions or functions",
        ),
        ("{{ functions.foo(1) }}", 1, 14, &unknown_fn),
        ("{{ functions.mask() }}", 1, 14, "`mask` takes 1 argument, got 0"),
        ("{{ functions.substring('a') }}", 1, 14, "`substring` takes 2 or 3 arguments, got 1"),
        ("{{ functions.uuid(1) }}", 1, 14, "`uuid` takes 0 arguments, got 1"),
        ("{{ functions.replaceAll('a', 'b') }}", 1, 14, "`replaceAll` takes 3 arguments, got 2"),
        ("{{ functions.replace('a', 'b') }}", 1, 14, "`replace` takes 3 arguments, got 2"),
        ("{{ functions.toTimestamp(1, 2) }}", 1, 14, "`toTimestamp` takes 0 or 1 arguments, got 2"),
        ("{{ functions.slice('a') }}", 1, 14, "`slice` takes 2 or 3 arguments, got 1"),
        ("{{ functions.split('a') }}", 1, 14, "`split` takes 2 or 3 arguments, got 1"),
        ("{{ functions.includes('a') }}", 1, 14, "`includes` takes 2 or 3 arguments, got 1"),
        ("{{ functions.indexOf('a', 1, 2, 3) }}", 1, 14, "`indexOf` takes 2 or 3 arguments, got 4"),
        ("{{ functions.merge('a') }}", 1, 14, "`merge` takes 2 arguments, got 1"),
        ("{{ functions.md5() }}", 1, 14, "`md5` takes 1 argument, got 0"),
        ("{{ functions.sha512('a', 'b') }}", 1, 14, "`sha512` takes 1 argument, got 2"),
        ("{{ functions.random(1, 2, true, 4) }}", 1, 14, "`random` takes 2 or 3 arguments, got 4"),
        ("{{ functions.MD5('a') }}", 1, 14, &format!("unknown function `MD5` (known: {known})")),
        ("{{ functions.trim(fields.a }}", 1, 28, "expected `,` or `)`"),
        ("{{ functions.trim }}", 1, 19, "expected `(` after `functions.trim`"),
        ("{{ functions }}", 1, 14, "expected `.` and a function name after `functions`"),
        ("{{ functions.1() }}", 1, 14, "expected `.` and a function name after `functions`"),
        ("{{ fields. }}", 1, 12, "expected a name after `.`"),
        ("{{ fields[ }}", 1, 12, "expected an array index or a quoted key"),
        ("{{ fields[-1] }}", 1, 11, "an array index is a whole number from 0"),
        ("{{ fields[1.5] }}", 1, 11, "an array index is a whole number from 0"),
        ("{{ fields[0 }}", 1, 13, "expected `]`"),
        ("{{ }}", 1, 4, "expected an expression"),
        ("{{}}", 1, 3, "expected an expression"),
        ("{{ fields.a ?? }}", 1, 16, "expected an expression"),
        ("{{ fields.a fields.b }}", 1, 13, "expected `}}` or `??`"),
        ("{{ actions }}", 1, 4, actions),
        ("{{ actions[0].x }}", 1, 4, actions),
        ("{{ 'abc }}", 1, 4, "unterminated string"),
        (r"{{ 'a\q' }}", 1, 6, r#"unknown escape `\q`: use \' \" \\ \n \t or \r"#),
        ("{{ fields.a # }}", 1, 13, "unexpected character `#`"),
        ("{{ fields.a ? 'b' }}", 1, 13, "unexpected `?`: the fallback operator is `??`"),
        ("{{ fields.a }", 1, 13, "unexpected character `}`"),
        ("{{{ fields.a }}}", 1, 3, "unexpected character `{`"),
        ("{{ - 1 }}", 1, 4, "expected a digit after `-`"),
        (
            "line one\nline two {{\n  functions.mask(\n    fields.x,\n    fields.y\n  )\n}}",
            3,
            13,
            "`mask` takes 1 argument, got 2",
        ),
        ("a\n\n   {{ vars.x }} {{ 'open\n  }}", 3, 20, "unterminated string"),
    ];
    for &(src, line, column, message) in cases {
        let err = Template::parse(src).err();
        let got = err.as_ref().map(|e| (e.line, e.column, e.message.as_str()));
        assert_eq!(got, Some((line, column, message)), "{src:?}");
    }
}

#[test]
fn errors_display_their_place_and_count_bytes_in_offsets() {
    let err = Template::parse("héllo {{ bad }}").err();
    assert_eq!(err.as_ref().map(|e| e.offset), Some(10));
    let err = Template::parse("{{ fields.a ?? }}").err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("line 1, column 16: expected an expression")
    );
}

#[test]
fn source_and_depth_limits() {
    let long = "a".repeat(MAX_TEMPLATE_SOURCE + 1);
    assert_eq!(
        Template::parse(&long).err().map(|e| e.message),
        Some("a template may be at most 65536 bytes long".to_owned())
    );
    assert!(Template::parse(&"a".repeat(MAX_TEMPLATE_SOURCE)).is_ok());

    let nested = |calls: usize| {
        format!("{{{{{}fields.x{}}}}}", "functions.trim(".repeat(calls), ")".repeat(calls))
    };
    assert!(Template::parse(&nested(MAX_TEMPLATE_DEPTH)).is_ok());
    let err = Template::parse(&nested(MAX_TEMPLATE_DEPTH + 1)).err();
    assert_eq!(
        err.map(|e| (e.column, e.message)),
        Some((2 + 15 * 33 + 1, "expressions may nest at most 32 levels deep".to_owned()))
    );
    // Deep nesting renders without trouble once parsed.
    assert_eq!(render(&nested(MAX_TEMPLATE_DEPTH)), Ok(json!("")));
}

#[test]
fn output_and_node_limits() {
    let big = "a".repeat(600 * 1024);
    let mib = "a".repeat(MAX_RENDERED_OUTPUT);
    let fields = json!({ "big": big, "list": vec![big.clone(); 2], "mib": mib });
    let data = Data { fields, ..Data::new() };
    let scope = data.scope();
    // Sizes, not values, so that a failure does not print a megabyte.
    let size = |src: &str| parse(src).render(&scope).map(|v| v.to_string().len());
    let too_large = Err(EvalError::OutputTooLarge { limit: MAX_RENDERED_OUTPUT });

    assert_eq!(size("{{fields.big}}"), Ok(big.len() + 2));
    assert_eq!(size("{{fields.big}}{{fields.big}}"), too_large);
    assert_eq!(size("{{fields.list}}"), too_large);
    assert_eq!(size("{{functions.toString(fields.list)}}"), too_large);
    assert_eq!(size("{{functions.toArray(fields.list)}}"), too_large);
    assert_eq!(size("{{functions.replaceAll(fields.big, 'a', 'aa')}}"), too_large);
    let spaces = "functions.replaceAll(functions.substring(fields.big, 0, 400000), 'a', ' ')";
    assert_eq!(size(&format!("{{{{functions.length({spaces})}}}}")), Ok(6));
    let encoded = format!("{{{{functions.length(functions.encodeURIComponent({spaces}))}}}}");
    assert_eq!(size(&encoded), too_large);
    assert_eq!(size("{{functions.length(functions.substring(fields.big, 0, 400000))}}"), Ok(6));

    // The functions that build arrays or strings from their arguments refuse to build past the
    // limit, rather than allocate and then fail.
    assert_eq!(size("{{fields.mib}}"), Ok(MAX_RENDERED_OUTPUT + 2));
    assert_eq!(size("{{functions.split(fields.mib, '')}}"), too_large);
    assert_eq!(size("{{functions.split(fields.mib, 'a')}}"), too_large);
    assert_eq!(size("{{functions.split(fields.mib, '', 3)}}"), Ok(13));
    assert_eq!(size("{{functions.length(functions.split(fields.big, 'aaaaaaaa'))}}"), Ok(5));
    assert_eq!(size("{{functions.slice(fields.list, 0)}}"), too_large);
    assert_eq!(size("{{functions.slice(fields.list, 1)}}"), Ok(big.len() + 4));
    assert_eq!(size("{{functions.slice(fields.mib, 1)}}"), Ok(MAX_RENDERED_OUTPUT + 1));
    assert_eq!(size("{{functions.merge(fields.big, fields.big)}}"), too_large);
    assert_eq!(size("{{functions.merge(fields.list, fields.list)}}"), too_large);
    assert_eq!(
        size("{{functions.merge(functions.slice(fields.list, 1), fields.list)}}"),
        too_large
    );
    assert_eq!(size("{{functions.merge(fields.mib, '')}}"), Ok(MAX_RENDERED_OUTPUT + 2));
    assert_eq!(size("{{functions.merge(fields.mib, 'a')}}"), too_large);
    assert_eq!(size("{{functions.replace(fields.big, 'a', fields.big)}}"), too_large);
    assert_eq!(size("{{functions.replace(fields.mib, 'a', 'b')}}"), Ok(MAX_RENDERED_OUTPUT + 2));
    assert_eq!(size("{{functions.replace(fields.mib, 'a', 'bb')}}"), too_large);
    assert_eq!(size("{{functions.md5(fields.mib)}}"), Ok(34));
    assert_eq!(size("{{functions.sha512(fields.mib)}}"), Ok(130));
    assert_eq!(size("{{functions.includes(fields.list, fields.big)}}"), Ok(4));
    assert_eq!(size("{{functions.indexOf(fields.mib, 'b')}}"), Ok(2));
    let twice = json!(["{{fields.big}}", "{{fields.big}}"]);
    assert_eq!(render_value(&twice, &scope).map(|v| v.to_string().len()), too_large);

    let nodes = |n: usize| Value::Array(vec![json!("{{ 1 }}"); n]);
    let scope = TemplateScope::empty(now());
    assert!(render_value(&nodes(MAX_EVALUATED_NODES), &scope).is_ok());
    assert_eq!(
        render_value(&nodes(MAX_EVALUATED_NODES + 1), &scope),
        Err(EvalError::TooManyNodes { limit: MAX_EVALUATED_NODES })
    );
    assert_eq!(
        parse(&"{{1}}".repeat(MAX_EVALUATED_NODES + 1)).render(&scope),
        Err(EvalError::TooManyNodes { limit: MAX_EVALUATED_NODES })
    );
    // Operands a fallback does not reach are not evaluated: 2 nodes per string, not 5.
    let fallbacks = vec![json!("{{ 1 ?? fields.x ?? fields.y ?? fields.z }}"); 5_000];
    assert!(render_value(&Value::Array(fallbacks), &scope).is_ok());
}

#[test]
fn evaluation_errors_name_the_function_never_the_value() {
    let bad = |function, reason| Err(EvalError::BadArgument { function, reason });
    let not_collection = "the first argument is not a string or array";
    let not_convertible = "the argument is not a string, number or boolean";
    let cannot_merge = "the base is not an array, object or string, or the value is not of a \
                        type that merges into it";
    let cases = [
        ("{{functions.toNumber(fields.secret)}}", bad("toNumber", "the argument is not a number")),
        (
            "{{functions.toNumber(fields.obj)}}",
            bad("toNumber", "the argument is not a string, number or boolean"),
        ),
        (
            "{{functions.toBoolean(fields.secret)}}",
            bad("toBoolean", "the argument is not a boolean (true, false, 1, 0 or empty)"),
        ),
        (
            "{{functions.length(42)}}",
            bad("length", "the argument is not a string, array or object"),
        ),
        (
            "{{functions.substring('abc', fields.secret)}}",
            bad("substring", "the argument is not a number"),
        ),
        (
            "{{functions.random(5, 1)}}",
            bad("random", "the lower bound is greater than the upper bound"),
        ),
        ("{{functions.random(1.5, 2)}}", bad("random", "the bounds must be whole numbers")),
        ("{{functions.random(1.5, 2, false)}}", bad("random", "the bounds must be whole numbers")),
        (
            "{{functions.random(2.5, 1, true)}}",
            bad("random", "the lower bound is greater than the upper bound"),
        ),
        (
            "{{functions.random(1, 2, fields.secret)}}",
            bad("random", "the argument is not a boolean (true, false, 1, 0 or empty)"),
        ),
        (
            "{{functions.random(1, fields.secret, true)}}",
            bad("random", "the argument is not a number"),
        ),
        (
            "{{functions.toTimestamp(fields.secret)}}",
            bad("toTimestamp", "the argument is not an ISO 8601 date"),
        ),
        (
            "{{functions.toTimestamp(1619776970)}}",
            bad("toTimestamp", "the argument is not an ISO 8601 date"),
        ),
        (
            "{{functions.toTimestamp(fields.obj)}}",
            bad("toTimestamp", "the argument is not an ISO 8601 date"),
        ),
        ("{{functions.slice(fields.obj, 0)}}", bad("slice", not_collection)),
        ("{{functions.slice('abc', fields.secret)}}", bad("slice", "the argument is not a number")),
        ("{{functions.slice('abc', 0, fields.obj)}}", bad("slice", not_convertible)),
        (
            "{{functions.split('a-b', '-', fields.secret)}}",
            bad("split", "the argument is not a number"),
        ),
        ("{{functions.includes(42, 4)}}", bad("includes", not_collection)),
        ("{{functions.includes(fields.obj, 'a')}}", bad("includes", not_collection)),
        (
            "{{functions.includes(fields.tags, 'a', fields.secret)}}",
            bad("includes", "the argument is not a number"),
        ),
        ("{{functions.indexOf(true, 't')}}", bad("indexOf", not_collection)),
        ("{{functions.merge(fields.n, fields.list)}}", bad("merge", cannot_merge)),
        ("{{functions.merge(fields.missing, fields.list)}}", bad("merge", cannot_merge)),
        ("{{functions.merge(fields.list, fields.secret)}}", bad("merge", cannot_merge)),
        ("{{functions.merge(fields.obj, fields.list)}}", bad("merge", cannot_merge)),
        ("{{functions.merge(fields.secret, fields.obj)}}", bad("merge", cannot_merge)),
    ];
    for (src, want) in cases {
        let got = render(src);
        assert_eq!(got, want, "{src:?}");
        let shown = format!(
            "{:?} {}",
            got,
            got.as_ref().err().map(ToString::to_string).unwrap_or_default()
        );
        assert!(!shown.contains("SECRET"), "{shown}");
    }
    assert_eq!(
        render("{{functions.toNumber(fields.secret)}}").err().map(|e| e.to_string()).as_deref(),
        Some("functions.toNumber: the argument is not a number")
    );
    assert_eq!(
        render("{{functions.toTimestamp(fields.secret)}}").err().map(|e| e.to_string()).as_deref(),
        Some("functions.toTimestamp: the argument is not an ISO 8601 date")
    );
}

#[test]
fn render_value_walks_objects_and_arrays_but_not_keys() {
    let data = Data::new();
    let params = json!({
        "to": "{{fields.email}}",
        "payload": {
            "n": "{{fields.n}}",
            "list": ["a", "{{fields.list}}", 1, true, null, {"deep": "{{ vars.counter }}!"}],
            "{{fields.name}}": "key not templated",
        },
    });
    let want = json!({
        "to": "ada@example.com",
        "payload": {
            "n": 42,
            "list": ["a", ["x", "y"], 1, true, null, {"deep": "3!"}],
            "{{fields.name}}": "key not templated",
        },
    });
    assert_eq!(render_value(&params, &data.scope()), Ok(want));

    let broken = json!({"payload": {"list": ["ok", "{{ oops }}"]}});
    match render_value(&broken, &data.scope()) {
        Err(EvalError::Invalid(e)) => {
            assert_eq!(e.path, "payload.list[1]");
            assert_eq!(e.error.column, 4);
        }
        other => panic!("{other:?}"),
    }
    let too_long = json!("a".repeat(MAX_TEMPLATE_SOURCE + 1));
    match render_value(&too_long, &data.scope()) {
        Err(EvalError::Invalid(e)) => assert_eq!(e.path, "$"),
        other => panic!("{:?}", other.map(|v| v.to_string().len())),
    }
}

#[test]
fn check_value_finds_templates_and_the_first_error_with_its_path() {
    let params = json!({
        "to": "{{fields.email}}",
        "body": "static",
        "a b": ["x", {"y": "{{ vars.y }}"}],
        "headers": {"X-Id": "id-{{actions.lookup.id}}"},
    });
    let found = check_value(&params, "params").unwrap_or_else(|e| panic!("{e}"));
    let paths: Vec<&str> = found.iter().map(|t| t.path.as_str()).collect();
    assert_eq!(paths, ["params[\"a b\"][1].y", "params.headers.X-Id", "params.to"]);
    assert_eq!(found[1].template.action_refs(), ["lookup"]);

    let broken = json!({"payload": {"ok": "{{fields.a}}", "to": "Hi {{ user.email }}"}});
    let err = check_value(&broken, "params").err();
    assert_eq!(err.as_ref().map(|e| e.path.as_str()), Some("params.payload.to"));
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some(
            "params.payload.to: line 1, column 7: unknown root `user`: expected fields, vars, \
             context, actions or functions"
        )
    );
}

#[test]
fn action_refs_list_each_action_once() {
    let t = parse(
        "{{actions.a.x}} {{ functions.toString(actions.b ?? actions.a.y) }} \
         {{ actions['c d'].z }} {{ fields.actions }}",
    );
    assert_eq!(t.action_refs(), ["a", "b", "c d"]);
    assert!(parse("no templates").action_refs().is_empty());

    let params = json!({
        "x": "{{actions.one.v}}",
        "y": ["{{actions.two.v}}", "{{actions.one.w}}", 5],
        "z": "{{ broken",
    });
    assert_eq!(action_refs_in(&params), ["one", "two"]);
}

#[test]
fn static_templates() {
    assert!(parse("no templates }} here").is_static());
    assert!(parse("").is_static());
    assert!(!parse("{{ fields.a }}").is_static());
    assert!(!parse("a {{1}}").is_static());
}

#[test]
fn the_scope_debug_hides_values() {
    let data = Data::new();
    let shown = format!("{:?}", data.scope());
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("2026-11-26T09:30:00.125Z"), "{shown}");
}

/// Text with its `{{` pairs broken up.
fn without_open_braces(mut s: String) -> String {
    while s.contains("{{") {
        s = s.replace("{{", "{ {");
    }
    s
}

/// Strings made of the language's own pieces, so that many of them parse.
const TEMPLATE_LIKE: &str = "(\\{\\{|\\}\\}|[(),.?\\[\\]'\"\\\\ ]|-?[0-9]|fields|actions|functions|\
                             trim|mask|random|substring|toArray|slice|split|merge|includes|\
                             indexOf|replace|toTimestamp|md5|true|[a-z_]){0,40}";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parsing_arbitrary_text_never_panics(s in any::<String>()) {
        if let Ok(t) = Template::parse(&s) {
            let _ = t.render(&TemplateScope::empty(now()));
        }
    }

    #[test]
    fn parsing_template_like_text_never_panics(
        s in TEMPLATE_LIKE,
    ) {
        if let Ok(t) = Template::parse(&s) {
            let _ = t.render(&Data::new().scope());
            let _ = t.action_refs();
        }
        let _ = check_value(&json!({"p": s}), "params");
    }

    #[test]
    fn text_without_templates_renders_unchanged(s in "(\\PC|[{}]){0,80}") {
        let s = without_open_braces(s);
        let t = Template::parse(&s);
        prop_assert!(t.as_ref().is_ok_and(Template::is_static), "{:?}", t);
        let rendered = t.ok().map(|t| t.render(&TemplateScope::empty(now())));
        prop_assert_eq!(rendered, Some(Ok(Value::String(s))));
    }
}

#[test]
fn masked_values_reach_the_action_unchanged_and_are_listed_for_the_record() {
    let d = Data::new();
    let params = json!({
        "card": "{{functions.mask(fields.card)}}",
        "note": "card {{functions.mask(fields.card)}} for {{fields.name}}",
        "pin": "{{functions.mask(vars.counter)}}",
        "none": "{{functions.mask(fields.missing)}}",
    });
    let r = render_params(&params, &d.scope()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.value["card"], "4111111111111111");
    assert_eq!(r.value["note"], "card 4111111111111111 for Ada");
    assert_eq!(r.value["pin"], 3);
    assert!(r.masked.contains(&json!("4111111111111111")));
    assert!(r.masked.contains(&json!(3)));
    assert!(!r.masked.contains(&Value::Null), "nothing to hide for a missing value");
}
