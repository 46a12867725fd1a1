//! Feeds arbitrary text to `XML PARSE_XML`'s reader: never a panic, and whatever it reads writes
//! back (`SERIALIZE_XML`) to XML that reads the same.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        flowvault_engine::fuzzing::xml_document(text);
    }
});
