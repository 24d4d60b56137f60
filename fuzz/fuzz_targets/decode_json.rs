//! Broker's JSON decoder (values and data messages) on arbitrary text: a value or an error;
//! a decoded value's JSON must decode again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zcluster::data::json as bjson;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = bjson::from_json(text) {
        let j = bjson::to_json(&v);
        bjson::from_json(&j).expect("our own JSON must decode");
    }
    let _ = bjson::data_message_from_json(text);
});
