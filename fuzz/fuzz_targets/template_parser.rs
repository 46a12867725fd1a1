//! Parses arbitrary bytes as a template and renders what parses against an all-null scope:
//! neither may panic, and both must stay within their limits.

#![no_main]

use flowvault_core::{Template, TemplateScope, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    if let Ok(template) = Template::parse(&source) {
        let Ok(now) = "2026-01-01T00:00:00Z".parse::<Timestamp>() else { return };
        let _ = template.render(&TemplateScope::empty(now));
        let _ = template.action_refs();
    }
});
