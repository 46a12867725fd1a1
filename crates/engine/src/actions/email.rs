//! `EMAIL VERIFY_EMAIL`: checks an address against the rules the flow gives and answers
//! `{"email": "<as given>", "valid": true|false, "reason": null|"…"}`. A rule the address fails is
//! an answer (`valid: false`), not an error; the action fails only for a malformed param, or an
//! MX lookup that got no answer (then nothing can be said either way, and `allow_failure` lets
//! the flow decide).
//!
//! The checks, in order (the first that fails is the reason):
//!
//! | reason | when |
//! |---|---|
//! | `syntax` | not a plain address: see [`Address::parse`] (always checked) |
//! | — | on `allowlist`: valid, nothing below is checked (no DNS lookup either) |
//! | `blocklist` | on `blocklist` |
//! | `alias` | `block_aliases` and a `+` in the local part (`ada+news@…`) |
//! | `disposable` | `block_disposable_emails` and a disposable-mail domain |
//! | `free` | `block_free_emails` and a free-mail domain |
//! | `no_mx` | `require_mx_record` and the domain has no MX record |
//!
//! List entries are addresses (`ada@example.com`) or domains (`example.com`, `@example.com`),
//! compared without regard to case. A domain entry covers its subdomains; an address entry
//! covers the address and its `+` aliases. Dots in the local part never make an alias: Gmail
//! ignores them, but elsewhere they are part of the name, and refusing `ada.lovelace@` would
//! refuse ordinary addresses.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use flowvault_core::{EmailOp, is_email};

use super::{ActionError, Call};
use crate::mx::MxResolver;

/// Free-mail providers' domains, one a line (see the file's header for what is in it).
const FREE_DOMAINS: &str = include_str!("email/free_domains.txt");
/// Disposable-mail services' domains, one a line.
const DISPOSABLE_DOMAINS: &str = include_str!("email/disposable_domains.txt");

static FREE: LazyLock<HashSet<&'static str>> = LazyLock::new(|| domain_list(FREE_DOMAINS));
static DISPOSABLE: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| domain_list(DISPOSABLE_DOMAINS));

pub(super) async fn run(op: EmailOp, call: &Call<'_>) -> Result<Value, ActionError> {
    match op {
        EmailOp::VerifyEmail => verify(call).await,
    }
}

async fn verify(call: &Call<'_>) -> Result<Value, ActionError> {
    let email = match call.params.get("email") {
        Some(Value::String(s)) => s,
        None | Some(Value::Null) => return Err(ActionError::new("param `email` is missing")),
        Some(_) => return Err(ActionError::new("param `email` must be a string")),
    };
    let rules = Rules::from_param(call.object("rules")?)?;
    let reason = check(email, &rules, call.mx).await?;
    Ok(json!({
        "email": email,
        "valid": reason.is_none(),
        "reason": reason.map(Reason::as_str),
    }))
}

async fn check(
    email: &str,
    rules: &Rules,
    mx: &dyn MxResolver,
) -> Result<Option<Reason>, ActionError> {
    let Some(address) = Address::parse(email) else { return Ok(Some(Reason::Syntax)) };
    if rules.allowlist.iter().any(|e| e.matches(&address)) {
        return Ok(None);
    }
    if rules.blocklist.iter().any(|e| e.matches(&address)) {
        return Ok(Some(Reason::Blocklist));
    }
    if rules.block_aliases && address.local.contains('+') {
        return Ok(Some(Reason::Alias));
    }
    if rules.block_disposable_emails && listed(&DISPOSABLE, &address.domain) {
        return Ok(Some(Reason::Disposable));
    }
    if rules.block_free_emails && listed(&FREE, &address.domain) {
        return Ok(Some(Reason::Free));
    }
    // Last: the one check that leaves the machine.
    if rules.require_mx_record {
        let hosts = mx.mail_exchangers(&address.domain).await.map_err(|e| {
            ActionError::new(format!(
                "the MX records of {} could not be looked up: {e}",
                address.domain
            ))
        })?;
        if hosts.is_empty() {
            return Ok(Some(Reason::NoMx));
        }
    }
    Ok(None)
}

/// Why an address is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Syntax,
    Blocklist,
    Alias,
    Disposable,
    Free,
    NoMx,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Syntax => "syntax",
            Reason::Blocklist => "blocklist",
            Reason::Alias => "alias",
            Reason::Disposable => "disposable",
            Reason::Free => "free",
            Reason::NoMx => "no_mx",
        }
    }
}

/// The `rules` param, read once.
#[derive(Debug, Default)]
struct Rules {
    require_mx_record: bool,
    block_aliases: bool,
    block_free_emails: bool,
    block_disposable_emails: bool,
    blocklist: Vec<Entry>,
    allowlist: Vec<Entry>,
}

impl Rules {
    /// # Errors
    /// [`ActionError`] for a rule it does not know or a value of the wrong type: a typo in a
    /// rule's name must not pass for "no rule".
    fn from_param(rules: Option<&Map<String, Value>>) -> Result<Self, ActionError> {
        let mut out = Rules::default();
        for (name, value) in rules.into_iter().flatten() {
            match name.as_str() {
                "require_mx_record" => out.require_mx_record = flag(name, value)?,
                "block_aliases" => out.block_aliases = flag(name, value)?,
                "block_free_emails" => out.block_free_emails = flag(name, value)?,
                "block_disposable_emails" => out.block_disposable_emails = flag(name, value)?,
                "blocklist" => out.blocklist = entries(name, value)?,
                "allowlist" => out.allowlist = entries(name, value)?,
                other => return Err(ActionError::new(format!("`rules.{other}` is not a rule"))),
            }
        }
        Ok(out)
    }
}

fn flag(name: &str, value: &Value) -> Result<bool, ActionError> {
    match value {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        _ => Err(ActionError::new(format!("`rules.{name}` must be true or false"))),
    }
}

fn entries(name: &str, value: &Value) -> Result<Vec<Entry>, ActionError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(ActionError::new(format!("`rules.{name}` must be an array of strings"))),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(s) = item else {
            return Err(ActionError::new(format!("`rules.{name}` must be an array of strings")));
        };
        out.extend(Entry::parse(s));
    }
    Ok(out)
}

/// One `blocklist` or `allowlist` entry, lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `ada@example.com`: that address and its `+` aliases.
    Address(String),
    /// `example.com` or `@example.com`: that domain and its subdomains.
    Domain(String),
}

impl Entry {
    /// `None` for an entry with nothing in it.
    fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim().to_lowercase();
        let entry = match entry.strip_prefix('@') {
            Some(domain) => domain.to_owned(),
            None if entry.contains('@') => return Some(Entry::Address(entry)),
            // `*.example.com` and `.example.com` say what a domain entry means anyway.
            None => entry.trim_start_matches("*.").trim_start_matches('.').to_owned(),
        };
        let domain = entry.trim_end_matches('.');
        (!domain.is_empty()).then(|| Entry::Domain(domain.to_owned()))
    }

    fn matches(&self, address: &Address) -> bool {
        match self {
            Entry::Address(a) => *a == address.full || *a == address.untagged,
            Entry::Domain(d) => in_domain(&address.domain, d),
        }
    }
}

/// An address that passed the syntax check, lower case.
#[derive(Debug)]
struct Address {
    full: String,
    /// `full` without the local part's `+tag`.
    untagged: String,
    local: String,
    domain: String,
}

impl Address {
    /// The address if it is a plain one: the shape [`is_email`] checks (the one the flow
    /// schema's `format: email` uses), within RFC 5321's lengths (254 in all, 64 before the
    /// `@`, 63 a label); a local part of RFC 5322 "atoms" joined by single dots (no quoted
    /// strings or comments; UTF-8 allowed, as RFC 6531 does); a domain of host-name labels (no
    /// address literals, no all-digit top-level label). Internationalized domains are taken as
    /// written, not converted to punycode.
    fn parse(email: &str) -> Option<Self> {
        if !is_email(email) || email.len() > 254 {
            return None;
        }
        let (local, domain) = email.split_once('@')?;
        let local_ok = local.len() <= 64
            && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(is_atext));
        let labels_ok = domain.split('.').all(|label| {
            label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
        });
        let top = domain.rsplit('.').next().unwrap_or_default();
        if !local_ok || !labels_ok || top.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let local = local.to_lowercase();
        let domain = domain.to_lowercase();
        let untagged = match local.split_once('+') {
            Some((base, _)) => format!("{base}@{domain}"),
            None => format!("{local}@{domain}"),
        };
        Some(Address { full: format!("{local}@{domain}"), untagged, local, domain })
    }
}

/// RFC 5322's `atext`, and any non-ASCII character (RFC 6531); [`is_email`] has already
/// refused whitespace and control characters.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Whether `domain` is `parent` or one of its subdomains.
fn in_domain(domain: &str, parent: &str) -> bool {
    domain.strip_suffix(parent).is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// Whether `domain` or a domain above it is in `list`.
fn listed(list: &HashSet<&'static str>, domain: &str) -> bool {
    let mut rest = domain;
    loop {
        if list.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) => rest = parent,
            None => return false,
        }
    }
}

fn domain_list(text: &'static str) -> HashSet<&'static str> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_lists_are_clean_and_apart() {
        for (name, text) in [("free", FREE_DOMAINS), ("disposable", DISPOSABLE_DOMAINS)] {
            let entries: Vec<&str> = text
                .lines()
                .map(|l| l.split('#').next().unwrap_or_default().trim())
                .filter(|l| !l.is_empty())
                .collect();
            assert!(entries.len() >= 50, "{name}: {} entries", entries.len());
            let unique: HashSet<&str> = entries.iter().copied().collect();
            assert_eq!(unique.len(), entries.len(), "{name} lists a domain twice");
            for domain in entries {
                assert_eq!(domain, domain.to_lowercase(), "{name}: {domain}");
                assert!(
                    Address::parse(&format!("a@{domain}")).is_some(),
                    "{name}: {domain} is not a domain"
                );
            }
        }
        let both: Vec<_> = FREE.intersection(&DISPOSABLE).collect();
        assert!(both.is_empty(), "on both lists: {both:?}");
    }

    #[test]
    fn domains_cover_their_subdomains_only() {
        assert!(in_domain("example.com", "example.com"));
        assert!(in_domain("mail.example.com", "example.com"));
        assert!(!in_domain("badexample.com", "example.com"));
        assert!(!in_domain("example.com.evil", "example.com"));
        assert!(listed(&DISPOSABLE, "x.mailinator.com"));
        assert!(!listed(&DISPOSABLE, "notmailinator.com"));
        assert!(!listed(&FREE, "com"));
    }

    #[test]
    fn syntax_is_plain_addresses_only() {
        for good in [
            "ada@example.com",
            "Ada.Lovelace+news@Example.COM",
            "o'brien@example.ie",
            "用户@例子.广告",
            "a@b-c.example",
        ] {
            assert!(Address::parse(good).is_some(), "{good}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_label = format!("a@{}.com", "b".repeat(64));
        let long_total = format!("a@{}.com", vec!["b".repeat(60); 5].join("."));
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "ada lovelace@example.com",
            ".ada@example.com",
            "ada.@example.com",
            "ada..l@example.com",
            "\"ada\"@example.com",
            "ada(c)@example.com",
            "ada@-example.com",
            "ada@example-.com",
            "ada@exa_mple.com",
            "ada@[192.0.2.1]",
            "ada@192.0.2.1",
            "ada@example.com.",
            long_local.as_str(),
            long_label.as_str(),
            long_total.as_str(),
        ] {
            assert!(Address::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn entries_read_addresses_and_domains() {
        assert_eq!(
            Entry::parse(" Ada@Example.com "),
            Some(Entry::Address("ada@example.com".into()))
        );
        for domain in
            ["example.com", "@example.com", "*.example.com", ".example.com", "EXAMPLE.com."]
        {
            assert_eq!(Entry::parse(domain), Some(Entry::Domain("example.com".into())), "{domain}");
        }
        assert_eq!(Entry::parse("  "), None);
        assert_eq!(Entry::parse("@"), None);
    }
}
