//! The generic JSON parser on arbitrary bytes: a value or an error; what it accepts must
//! survive its own writer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zcluster::json;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = json::parse_bytes(data) {
        assert_eq!(
            json::parse(&v.to_compact()).expect("compact output parses"),
            v
        );
        assert_eq!(
            json::parse(&v.to_pretty()).expect("pretty output parses"),
            v
        );
    }
});
