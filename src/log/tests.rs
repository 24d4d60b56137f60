//! Expected bytes marked "Zeek baseline" are the record lines of Zeek 9.1-dev's btests
//! `testing/btest/Baseline/scripts.base.frameworks.logging.<name>/`, fed the same values.

use super::*;
use crate::data::{Address, Port, Protocol, Subnet};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn f(name: &str, ty: ZeekType) -> LogField {
    LogField::new(name, ty)
}
fn s(v: &[u8]) -> Value {
    Value::String(v.to_vec())
}
fn set_of(items: &[&[u8]]) -> Value {
    Value::Set(items.iter().map(|b| s(b)).collect::<BTreeSet<_>>())
}
fn secs(x: f64) -> Value {
    Value::Timestamp((x * 1e9).round() as i64)
}
fn ascii_line(opts: &AsciiOptions, fields: &[LogField], vals: &[Value]) -> String {
    String::from_utf8(ascii::record(opts, fields, vals)).unwrap()
}
fn line1(ty: ZeekType, v: Value) -> String {
    ascii_line(&AsciiOptions::default(), &[f("x", ty)], &[v])
}
fn json_line(fields: &[LogField], vals: &[Value]) -> String {
    String::from_utf8(json::record(fields, vals)).unwrap()
}
fn json1(ty: ZeekType, v: Value) -> String {
    json_line(&[f("s", ty)], &[v])
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("zc-log-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

// ---------------------------------------------------------------------------------------
// Record lines, ASCII

#[test]
fn ascii_markers_are_escaped_zeek_baseline_escape_notset_str() {
    // Zeek baseline ascii-escape-notset-str: x="-", y unset, z="".
    let fields = [
        f("x", ZeekType::String),
        f("y", ZeekType::String),
        f("z", ZeekType::String),
    ];
    let l = ascii_line(
        &AsciiOptions::default(),
        &fields,
        &[s(b"-"), Value::None, s(b"")],
    );
    assert_eq!(l, "\\x2d\t-\t(empty)\n");
    assert_eq!(line1(ZeekType::String, s(b"(empty)")), "\\x28empty)\n");
    // Only exact matches are escaped.
    assert_eq!(line1(ZeekType::String, s(b"--")), "--\n");
    assert_eq!(line1(ZeekType::String, s(b"(empty) ")), "(empty) \n");
}

#[test]
fn ascii_empty_marker_inside_set_zeek_baseline_escape_empty_str() {
    let o = AsciiOptions {
        empty_field: b"EMPTY".to_vec(),
        ..Default::default()
    };
    let l = ascii_line(
        &o,
        &[f("ss", ZeekType::Set(Box::new(ZeekType::String)))],
        &[set_of(&[b"EMPTY"])],
    );
    assert_eq!(l, "\\x45MPTY\n");
}

#[test]
fn ascii_set_separator_inside_elements_zeek_baseline_escape_set_separator() {
    // Zeek prints the set in its hash order ("\x2c,CC,\x2c\x2c,AA"); we print Broker's
    // order; each element is escaped the same way.
    let l = line1(
        ZeekType::Set(Box::new(ZeekType::String)),
        set_of(&[b"AA", b",", b",,", b"CC"]),
    );
    assert_eq!(l, "\\x2c,\\x2c\\x2c,AA,CC\n");
    // Outside a container a comma is plain.
    assert_eq!(line1(ZeekType::String, s(b"a,b")), "a,b\n");
    // Empty containers and elements.
    assert_eq!(
        line1(
            ZeekType::Set(Box::new(ZeekType::String)),
            Value::Set(BTreeSet::new())
        ),
        "(empty)\n"
    );
    assert_eq!(
        line1(
            ZeekType::Vector(Box::new(ZeekType::String)),
            Value::Vector(vec![])
        ),
        "(empty)\n"
    );
    assert_eq!(
        line1(
            ZeekType::Vector(Box::new(ZeekType::String)),
            Value::Vector(vec![s(b""), s(b"-"), Value::None, s(b"x")])
        ),
        "(empty),\\x2d,-,x\n"
    );
    assert_eq!(
        line1(
            ZeekType::Vector(Box::new(ZeekType::Count)),
            Value::Vector(vec![Value::Count(10), Value::Count(20)])
        ),
        "10,20\n"
    );
}

#[test]
fn ascii_multibyte_set_separator_zeek_baseline_utf8_enabled_set_separator_escape() {
    let o = AsciiOptions {
        set_separator: b"\xc2\xae".to_vec(),
        ..Default::default()
    };
    let l = ascii_line(
        &o,
        &[f("ss", ZeekType::Set(Box::new(ZeekType::String)))],
        &[set_of(&[b"\xc2\xae"])],
    );
    assert_eq!(l, "\\xc2\\xae\n");
    let h = String::from_utf8(ascii::header(
        &o,
        "test",
        &[f("ss", ZeekType::Set(Box::new(ZeekType::String)))],
        "T",
    ))
    .unwrap();
    assert!(h.contains("#set_separator\t\\xc2\\xae\n"), "{h}");
}

#[test]
fn ascii_line_like_comment_zeek_baseline() {
    let fields = [f("data", ZeekType::String), f("c", ZeekType::Count)];
    let o = AsciiOptions::default();
    assert_eq!(
        ascii_line(&o, &fields, &[s(b"Test1"), Value::Count(42)]),
        "Test1\t42\n"
    );
    assert_eq!(
        ascii_line(&o, &fields, &[s(b"#Kaputt"), Value::Count(42)]),
        "\\x23Kaputt\t42\n"
    );
}

#[test]
fn ascii_controls_and_utf8_zeek_baselines() {
    // ascii-utf8-enabled-control-characters.
    assert_eq!(
        line1(ZeekType::String, s(b"foo \n\t\0 bar")),
        "foo \\x0a\\x09\\x00 bar\n"
    );
    // ascii-utf8-enabled: valid UTF-8 passes.
    for t in ["foo \u{ae} bar", "दुनिया को नमस्ते", "hello 𠜎"] {
        assert_eq!(line1(ZeekType::String, s(t.as_bytes())), format!("{t}\n"));
    }
    // Backslashes are doubled; bad UTF-8 is escaped.
    assert_eq!(line1(ZeekType::String, s(b"a\\b\xff")), "a\\\\b\\xff\n");
    assert_eq!(line1(ZeekType::String, s(b"\r\n")), "\\x0d\\x0a\n");
    // Enums are strings too.
    assert_eq!(
        line1(ZeekType::Enum, Value::Enum("Cluster::LOG".into())),
        "Cluster::LOG\n"
    );
}

#[test]
fn ascii_without_utf8_zeek_baseline_escape_binary() {
    let o = AsciiOptions {
        enable_utf_8: false,
        ..Default::default()
    };
    let cases: [(&[u8], &str); 8] = [
        (b"AB\0CD\0", "AB\\x00CD\\x00"),
        (b"AB\xffCD\0", "AB\\xffCD\\x00"),
        (b"AB\\xffCD\0", "AB\\\\xffCD\\x00"),
        (b" ", " "),
        (b"abc\\x00def", "abc\\\\x00def"),
        (
            b"foo \xc2\xae bar \\xc2\\xae baz",
            "foo \\xc2\\xae bar \\\\xc2\\\\xae baz",
        ),
        (b"foo\x00bar\\0baz", "foo\\x00bar\\\\0baz"),
        (b"foo \x0e bar ^N baz", "foo \\x0e bar ^N baz"),
    ];
    for (input, want) in cases {
        assert_eq!(
            ascii_line(&o, &[f("s", ZeekType::String)], &[s(input)]),
            format!("{want}\n")
        );
    }
}

#[test]
fn ascii_custom_separators_zeek_baselines_escape_and_empty() {
    // ascii-escape: separator "||"; conn_id columns rolled out by hand.
    let o = AsciiOptions {
        separator: b"||".to_vec(),
        ..Default::default()
    };
    let fields = [
        f("t", ZeekType::Time),
        f("id.orig_h", ZeekType::Addr),
        f("id.orig_p", ZeekType::Port),
        f("id.resp_h", ZeekType::Addr),
        f("id.resp_p", ZeekType::Port),
        f("status", ZeekType::String),
        f("country", ZeekType::String),
    ];
    let row = |status: &[u8], country: &[u8]| {
        vec![
            secs(1234567890.5),
            Value::Address(Address::from_v4("1.2.3.4".parse().unwrap())),
            Value::Port(Port::new(1234, Protocol::Tcp)),
            Value::Address(Address::from_v4("2.3.4.5".parse().unwrap())),
            Value::Port(Port::new(80, Protocol::Tcp)),
            s(status),
            s(country),
        ]
    };
    assert_eq!(
        ascii_line(&o, &fields, &row(b"fa||ure", b"UK")),
        "1234567890.500000||1.2.3.4||1234||2.3.4.5||80||fa\\x7c\\x7cure||UK\n"
    );
    let h = String::from_utf8(ascii::header(&o, "ssh", &fields, "X")).unwrap();
    assert!(h.starts_with("#separator ||\n#set_separator||,\n#empty_field||(empty)\n#unset_field||-\n#path||ssh\n"), "{h}");
    assert!(h.ends_with(
        "#fields||t||id.orig_h||id.orig_p||id.resp_h||id.resp_p||status||country\n#types||time||addr||port||addr||port||string||string\n"
    ));

    // ascii-empty: other markers and meta prefix.
    let o = AsciiOptions {
        separator: b"|".to_vec(),
        set_separator: b",".to_vec(),
        empty_field: b"EMPTY".to_vec(),
        unset_field: b"NOT-SET".to_vec(),
        meta_prefix: b"PREFIX<>".to_vec(),
        enable_utf_8: true,
    };
    let mut fields = fields.to_vec();
    fields.push(f("b", ZeekType::Bool));
    let mut r = row(b"failure", b"");
    r.push(Value::Bool(true));
    assert_eq!(
        ascii_line(&o, &fields, &r),
        "1234567890.500000|1.2.3.4|1234|2.3.4.5|80|failure|EMPTY|T\n"
    );
    let mut r = row(b"", b"US");
    r[5] = Value::None;
    r.push(Value::None);
    assert_eq!(
        ascii_line(&o, &fields, &r),
        "1234567890.500000|1.2.3.4|1234|2.3.4.5|80|NOT-SET|US|NOT-SET\n"
    );
    let h = String::from_utf8(ascii::header(&o, "ssh", &fields, "X")).unwrap();
    assert!(h.starts_with("PREFIX<>separator |\nPREFIX<>set_separator|,\nPREFIX<>empty_field|EMPTY\nPREFIX<>unset_field|NOT-SET\n"));
}

#[test]
fn ascii_times_zeek_baseline_timestamps() {
    let cases = [
        (1234567890.0, "1234567890.000000"),
        (1234567890.01, "1234567890.010000"),
        (1234567890.001, "1234567890.001000"),
        (1234567890.0001, "1234567890.000100"),
        (1234567890.00001, "1234567890.000010"),
        (1234567890.000001, "1234567890.000001"),
        (1234567890.0000001, "1234567890.000000"),
        (2385642157.0, "2385642157.000000"),
    ];
    for (t, want) in cases {
        // As a Zeek double and as a Broker timestamp (nanoseconds).
        assert_eq!(line1(ZeekType::Time, Value::Real(t)), format!("{want}\n"));
        assert_eq!(line1(ZeekType::Time, secs(t)), format!("{want}\n"));
    }
    assert_eq!(
        line1(ZeekType::Interval, Value::Timespan(100_000_000_000)),
        "100.000000\n"
    );
    assert_eq!(
        line1(ZeekType::Interval, Value::Timespan(-1_500_000)),
        "-0.001500\n"
    );
}

#[test]
#[allow(clippy::excessive_precision)]
fn ascii_doubles_zeek_baseline_double() {
    let dmax = 1.79e308;
    let cases: Vec<(f64, String)> = vec![
        (2153226000.0, "2153226000.0".into()),
        (2153226000.1, "2153226000.1".into()),
        (2153226000.123456789, "2153226000.123457".into()),
        (1.0, "1.0".into()),
        (1.1, "1.1".into()),
        (1.123456789, "1.123457".into()),
        (-1.123456789, "-1.123457".into()),
        (1.1234, "1.1234".into()),
        (0.1234, "0.1234".into()),
        (5e4, "50000.0".into()),
        (-5e4, "-50000.0".into()),
        (3.14e15, "3140000000000000.0".into()),
        (-3.14e15, "-3140000000000000.0".into()),
        (dmax, "178999999999999996376899522972626047077637637819240219954027593177370961667659291027329061638406108931437333529420935752785895444161234074984843178962619172326295244262722141766382622299223626438470088150218987997954747866198184686628013966119769261150988554952970462018533787926725176560021258785656871583744.0".into()),
        (1.23456789e-5, "0.000012".into()),
        (2.23e-308, "0.0".into()),
        (-2.23e-308, "-0.0".into()),
        (f64::INFINITY, "inf".into()),
        (f64::NEG_INFINITY, "-inf".into()),
        (-0.0, "0.0".into()),
        (f64::NAN, "nan".into()),
    ];
    for (d, want) in cases {
        assert_eq!(
            line1(ZeekType::Double, Value::Real(d)),
            format!("{want}\n"),
            "{d:e}"
        );
    }
}

#[test]
fn ascii_other_types() {
    assert_eq!(line1(ZeekType::Bool, Value::Bool(false)), "F\n");
    assert_eq!(line1(ZeekType::Int, Value::Integer(-42)), "-42\n");
    assert_eq!(
        line1(ZeekType::Count, Value::Count(u64::MAX)),
        "18446744073709551615\n"
    );
    assert_eq!(
        line1(ZeekType::Port, Value::Port(Port::new(53, Protocol::Udp))),
        "53\n"
    );
    let sn: Subnet = "10.0.0.1/24".parse().unwrap();
    assert_eq!(line1(ZeekType::Subnet, Value::Subnet(sn)), "10.0.0.0/24\n");
    let a: Address = "2001:db8::1".parse().unwrap();
    assert_eq!(line1(ZeekType::Addr, Value::Address(a)), "2001:db8::1\n");
    let set = Value::Set([Value::Count(3), Value::Count(1)].into_iter().collect());
    assert_eq!(
        line1(ZeekType::Set(Box::new(ZeekType::Count)), set),
        "1,3\n"
    );
}

#[test]
fn header_exact_bytes() {
    let h = ascii::header(
        &AsciiOptions::default(),
        "cluster",
        &cluster_log_fields(),
        "2026-11-23-10-57-22",
    );
    assert_eq!(
        String::from_utf8(h).unwrap(),
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tcluster\n\
         #open\t2026-11-23-10-57-22\n#fields\tts\tnode\tmessage\n#types\ttime\tstring\tstring\n"
    );
    assert_eq!(
        ascii::close_line(&AsciiOptions::default(), "2026-11-23-11-00-00"),
        b"#close\t2026-11-23-11-00-00\n"
    );
    assert_eq!(ZeekType::Set(Box::new(ZeekType::Addr)).name(), "set[addr]");
    assert_eq!(
        ZeekType::parse("vector[string]").unwrap(),
        ZeekType::Vector(Box::new(ZeekType::String))
    );
    assert!(ZeekType::parse("set[set[string]]").is_err());
    assert!(ZeekType::parse("table").is_err());
}

// ---------------------------------------------------------------------------------------
// Record lines, JSON

#[test]
#[allow(clippy::approx_constant)] // Zeek's test value 3.14
fn json_record_zeek_baseline_ascii_json() {
    use ZeekType::*;
    let fields = [
        f("b", Bool),
        f("i", Int),
        f("e", Enum),
        f("c", Count),
        f("p", Port),
        f("sn", Subnet),
        f("a", Addr),
        f("d", Double),
        f("t", Time),
        f("iv", Interval),
        f("s", String),
        f("sc", Set(Box::new(Count))),
        f("ss", Set(Box::new(String))),
        f("se", Set(Box::new(String))),
        f("vc", Vector(Box::new(Count))),
        f("ve", Vector(Box::new(String))),
        f("vn", Vector(Box::new(Count))),
    ];
    let vals = vec![
        Value::Bool(true),
        Value::Integer(-42),
        Value::Enum("SSH::LOG".into()),
        Value::Count(21),
        Value::Port(crate::data::Port::new(123, Protocol::Tcp)),
        Value::Subnet("10.0.0.1/24".parse().unwrap()),
        Value::Address(crate::data::Address::from_v4("1.2.3.4".parse().unwrap())),
        Value::Real(3.14),
        secs(1215620010.54321),
        Value::Timespan(100_000_000_000),
        s(b"hurz"),
        Value::Set((1..=4).map(Value::Count).collect()),
        set_of(&[b"AA", b"BB", b"CC"]),
        Value::Set(BTreeSet::new()),
        Value::Vector(vec![Value::Count(10), Value::Count(20), Value::Count(30)]),
        Value::Vector(vec![]),
        Value::Vector(vec![Value::Count(0), Value::None, Value::Count(2)]),
    ];
    // Zeek's line (its set order is hash order: [4,2,3,1] and ["CC","BB","AA"]; the
    // function column is left out here).
    assert_eq!(
        json_line(&fields, &vals),
        "{\"b\":true,\"i\":-42,\"e\":\"SSH::LOG\",\"c\":21,\"p\":123,\"sn\":\"10.0.0.0/24\",\"a\":\"1.2.3.4\",\
         \"d\":3.14,\"t\":1215620010.54321,\"iv\":100.0,\"s\":\"hurz\",\"sc\":[1,2,3,4],\"ss\":[\"AA\",\"BB\",\"CC\"],\
         \"se\":[],\"vc\":[10,20,30],\"ve\":[],\"vn\":[0,null,2]}\n"
    );
    // Unset fields are left out.
    assert_eq!(
        json_line(&fields[..2], &[Value::None, Value::Integer(1)]),
        "{\"i\":1}\n"
    );
}

#[test]
fn json_strings_zeek_baseline_ascii_json_utf8() {
    let cases: [(&[u8], &str); 28] = [
        (b"a", r#"{"s":"a"}"#),
        (b"\x08\x0c\n\r\t\x00\x15", r#"{"s":"\b\f\n\r\t\\x00\\x15"}"#),
        (b"\xc3\xb1", "{\"s\":\"\u{f1}\"}"),
        (b"\xc3\x28", r#"{"s":"\\xc3("}"#),
        (b"\xc0\x81", r#"{"s":"\\xc0\\x81"}"#),
        (b"\xc1\x81", r#"{"s":"\\xc1\\x81"}"#),
        (b"\xc2\xcf", r#"{"s":"\\xc2\\xcf"}"#),
        (b"\xa0\xa1", r#"{"s":"\\xa0\\xa1"}"#),
        (b"\xe2\x82\xa1", "{\"s\":\"\u{20a1}\"}"),
        (b"\xe0\xa3\xa1", "{\"s\":\"\u{8e1}\"}"),
        (b"\xe0\x80\xa1", r#"{"s":"\\xe0\\x80\\xa1"}"#),
        (b"\xe2\x28\xa1", r#"{"s":"\\xe2(\\xa1"}"#),
        (b"\xed\xa0\xa1", r#"{"s":"\\xed\\xa0\\xa1"}"#),
        (b"\xe2\x82\x28", r#"{"s":"\\xe2\\x82("}"#),
        (b"\xf0\x90\x8c\xbc", "{\"s\":\"\u{1033c}\"}"),
        (b"\xf1\x80\x8c\xbc", "{\"s\":\"\u{4033c}\"}"),
        (b"\xf4\x80\x8c\xbc", "{\"s\":\"\u{10033c}\"}"),
        (b"\xf0\x80\x8c\xbc", r#"{"s":"\\xf0\\x80\\x8c\\xbc"}"#),
        (b"\xf2\x28\x8c\xbc", r#"{"s":"\\xf2(\\x8c\\xbc"}"#),
        (b"\xf4\x90\x8c\xbc", r#"{"s":"\\xf4\\x90\\x8c\\xbc"}"#),
        (b"\xf0\x90\x28\xbc", r#"{"s":"\\xf0\\x90(\\xbc"}"#),
        (b"\xf0\x28\x8c\x28", r#"{"s":"\\xf0(\\x8c("}"#),
        (b"\\\\", r#"{"s":"\\\\"}"#),
        (b"\\", r#"{"s":"\\"}"#),
        (b"\x0b\\v\x0b", r#"{"s":"\\x0b\\v\\x0b"}"#),
        (
            b"a rocket \xf0\x9f\x9a\x80!\x00 NUL\x00",
            r#"{"s":"a rocket \\xf0\\x9f\\x9a\\x80!\\x00 NUL\\x00"}"#,
        ),
        (
            b"half-a-rocket rocket \xf0\x9f!",
            r#"{"s":"half-a-rocket rocket \\xf0\\x9f!"}"#,
        ),
        (b"\x07\x08", r#"{"s":"\\x07\b"}"#),
    ];
    for (input, want) in cases {
        assert_eq!(
            json1(ZeekType::String, s(input)),
            format!("{want}\n"),
            "{input:?}"
        );
    }
    assert_eq!(
        json1(ZeekType::String, s("a rocket 🚀!".as_bytes())),
        "{\"s\":\"a rocket 🚀!\"}\n"
    );
}

#[test]
#[allow(clippy::excessive_precision)]
fn json_doubles_zeek_baseline_ascii_double() {
    let cases: [(f64, &str); 22] = [
        (2153226000.0, "2153226000.0"),
        (2153226000.1, "2153226000.1"),
        (2153226000.123456789, "2153226000.123457"),
        (1.0, "1.0"),
        (1.1, "1.1"),
        (1.123456789, "1.123456789"),
        (-1.123456789, "-1.123456789"),
        (1.1234, "1.1234"),
        (0.1234, "0.1234"),
        (5e4, "50000.0"),
        (-5e4, "-50000.0"),
        (3.14e15, "3140000000000000.0"),
        (-3.14e15, "-3140000000000000.0"),
        (1.79e308, "1.79e308"),
        (-1.79e308, "-1.79e308"),
        (1.23456789e-5, "0.0000123456789"),
        (2.23e-308, "2.23e-308"),
        (-2.23e-308, "-2.23e-308"),
        (f64::INFINITY, "null"),
        (f64::NEG_INFINITY, "null"),
        (-0.0, "-0.0"),
        (f64::NAN, "null"),
    ];
    for (d, want) in cases {
        assert_eq!(
            json_line(&[f("d", ZeekType::Double)], &[Value::Real(d)]),
            format!("{{\"d\":{want}}}\n")
        );
    }
}

// ---------------------------------------------------------------------------------------
// The writer: files, flushing, rotation

fn read(p: &Path) -> String {
    String::from_utf8(std::fs::read(p).unwrap()).unwrap()
}

fn strip_dates(text: &str) -> String {
    text.lines()
        .map(|l| {
            for key in ["#open\t", "#close\t"] {
                if let Some(rest) = l.strip_prefix(key) {
                    assert!(is_zeek_date(rest), "bad date in {l:?}");
                    return format!("{key}DATE");
                }
            }
            l.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn is_zeek_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| {
            if [4, 7, 10, 13, 16].contains(&i) {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

#[test]
fn writer_cluster_log_end_to_end() {
    let dir = TempDir::new("e2e");
    let mut w = LogWriter::cluster(dir.path(), LogFormat::Ascii, None).unwrap();
    // No file before the first record, as in Zeek.
    assert!(dir.files().is_empty());
    let t0 = at(1_700_000_000);
    w.write_at(
        &cluster_log_record(
            1_700_000_000_123_456_789,
            "worker-1",
            "got hello from manager (id)",
        ),
        t0,
    )
    .unwrap();
    w.write_at(
        &cluster_log_record(1_700_000_000_500_000_000, "worker-1", "tab\there"),
        t0,
    )
    .unwrap();
    assert!(w.pending_bytes() > 0);
    w.close_at(t0 + Duration::from_secs(5)).unwrap();
    assert_eq!(dir.files(), ["cluster.log"]);
    let text = read(&dir.path().join("cluster.log"));
    assert_eq!(
        strip_dates(&text),
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tcluster\n#open\tDATE\n\
         #fields\tts\tnode\tmessage\n#types\ttime\tstring\tstring\n\
         1700000000.123457\tworker-1\tgot hello from manager (id)\n\
         1700000000.500000\tworker-1\ttab\\x09here\n#close\tDATE\n"
    );
    // The dates are local time of the given clock, checked against date(1).
    let open = text
        .lines()
        .find_map(|l| l.strip_prefix("#open\t"))
        .unwrap()
        .to_string();
    assert_eq!(open, writer::zeek_date(t0));
    if let Ok(out) = std::process::Command::new("date")
        .args(["-d", "@1700000000", "+%Y-%m-%d-%H-%M-%S"])
        .output()
    {
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), open);
        }
    }
    // Closed: writes fail, close again is a no-op.
    let e = w
        .write_at(&cluster_log_record(0, "a", "b"), t0)
        .unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::Closed);
    assert_eq!(w.close().unwrap(), None);
}

#[test]
fn writer_flushes_within_a_second() {
    let dir = TempDir::new("flush");
    let mut w = LogWriter::new(
        dir.path(),
        "cluster",
        cluster_log_fields(),
        LogFormat::Ascii,
        None,
    )
    .unwrap();
    let t0 = at(1_700_000_100);
    let p = dir.path().join("cluster.log");
    w.write_at(&cluster_log_record(1, "n", "first"), t0)
        .unwrap();
    // The header is on disk at once; the record waits.
    let text = read(&p);
    assert!(text.contains("#types\t") && !text.contains("first"));
    w.tick(t0 + Duration::from_millis(999)).unwrap();
    assert!(!read(&p).contains("first"));
    w.tick(t0 + Duration::from_millis(1000)).unwrap();
    assert!(read(&p).contains("first\n"));
    assert_eq!(w.pending_bytes(), 0);
    // A write a second after the last flush flushes by itself.
    w.write_at(
        &cluster_log_record(2, "n", "second"),
        t0 + Duration::from_millis(1500),
    )
    .unwrap();
    assert!(!read(&p).contains("second"));
    w.write_at(
        &cluster_log_record(3, "n", "third"),
        t0 + Duration::from_millis(2100),
    )
    .unwrap();
    assert!(read(&p).contains("second\n") && read(&p).contains("third\n"));
    // Real clock: flush() writes everything now.
    w.write(&cluster_log_record(4, "n", "fourth")).unwrap();
    w.flush().unwrap();
    assert!(read(&p).contains("fourth\n"));
    assert!(!read(&p).contains("#close"));
    drop(w); // Drop closes.
    assert!(read(&p).contains("#close\t"));
}

#[test]
fn writer_rotates_by_interval() {
    let dir = TempDir::new("rot");
    let iv = Duration::from_secs(3600);
    let mut w = LogWriter::new(
        dir.path(),
        "cluster",
        cluster_log_fields(),
        LogFormat::Ascii,
        Some(iv),
    )
    .unwrap();
    let t0 = at(1_700_000_123);
    assert_eq!(w.next_rotation(), None);
    w.write_at(&cluster_log_record(1, "n", "one"), t0).unwrap();
    let due = w.next_rotation().unwrap();
    let wait = due.duration_since(t0).unwrap();
    assert!(wait > Duration::ZERO && wait <= iv, "{wait:?}");
    // Aligned: a whole number of intervals after local midnight, like Zeek's calc_next_rotate.
    let local: chrono::DateTime<chrono::Local> = chrono::DateTime::from(due);
    use chrono::Timelike;
    assert_eq!((local.minute(), local.second()), (0, 0));
    // Not due yet.
    assert_eq!(w.tick(due - Duration::from_secs(1)).unwrap(), None);
    // Due: the file is closed and renamed after its open time.
    let rotated = w.tick(due).unwrap().expect("rotation");
    let expect_name = format!("cluster.{}.log", writer::zeek_date(t0));
    assert_eq!(rotated.file_name().unwrap().to_string_lossy(), expect_name);
    assert_eq!(dir.files(), std::slice::from_ref(&expect_name));
    let first = read(&rotated);
    assert!(first.contains("\tone\n"));
    assert_eq!(
        first.lines().last().unwrap(),
        format!("#close\t{}", writer::zeek_date(due))
    );
    // The next file appears with the next record; its rotation name is the rotation time.
    let t1 = due + Duration::from_secs(10);
    w.write_at(&cluster_log_record(2, "n", "two"), t1).unwrap();
    assert_eq!(w.next_rotation().unwrap(), due + iv);
    let cur = read(&dir.path().join("cluster.log"));
    assert!(cur.starts_with("#separator \\x09\n"));
    assert!(cur.contains(&format!("#open\t{}\n", writer::zeek_date(t1))));
    // Closing with rotation configured rotates the last file too (Zeek at termination).
    let last = w
        .close_at(t1 + Duration::from_secs(20))
        .unwrap()
        .expect("final rotation");
    let second_name = format!("cluster.{}.log", writer::zeek_date(due));
    assert_eq!(last.file_name().unwrap().to_string_lossy(), second_name);
    let mut want = vec![expect_name, second_name];
    want.sort();
    assert_eq!(dir.files(), want);
    let second = read(&last);
    assert!(second.contains("\ttwo\n") && !second.contains("\tone\n"));
    assert!(second.lines().last().unwrap().starts_with("#close\t"));
}

#[test]
fn writer_rotation_name_collision_keeps_both() {
    let dir = TempDir::new("coll");
    let mut w = LogWriter::new(
        dir.path(),
        "cluster",
        cluster_log_fields(),
        LogFormat::Ascii,
        Some(Duration::from_secs(60)),
    )
    .unwrap();
    let t0 = at(1_700_000_000);
    w.write_at(&cluster_log_record(1, "n", "a"), t0).unwrap();
    let r1 = w.rotate(t0).unwrap().unwrap();
    w.write_at(&cluster_log_record(2, "n", "b"), t0).unwrap();
    let r2 = w.rotate(t0).unwrap().unwrap();
    assert_ne!(r1, r2);
    assert!(r2.to_string_lossy().ends_with("-1.log"));
    // Nothing open: rotation is a no-op.
    assert_eq!(w.rotate(t0).unwrap(), None);
    assert_eq!(dir.files().len(), 2);
}

#[test]
fn writer_json_lines_parse_with_python() {
    let dir = TempDir::new("json");
    let mut fields = cluster_log_fields();
    fields.push(f("tags", ZeekType::Set(Box::new(ZeekType::String))));
    fields.push(f("peer", ZeekType::Addr));
    let mut w = LogWriter::new(dir.path(), "cluster", fields, LogFormat::Json, None).unwrap();
    let t0 = at(1_700_000_000);
    let msgs: [&[u8]; 4] = [
        b"plain",
        b"quote \" backslash \\ tab \t",
        "ünïcödé".as_bytes(),
        b"bad \xff byte\x01",
    ];
    for (i, m) in msgs.iter().enumerate() {
        let mut r = vec![
            Value::Timestamp(1_700_000_000_000_000_000 + i as i64 * 250_000_000),
            s(b"logger-1"),
            s(m),
        ];
        r.push(set_of(&[b"a", b"b"]));
        r.push(if i == 0 {
            Value::None
        } else {
            Value::Address(Address::from_v4("127.0.0.1".parse().unwrap()))
        });
        w.write_at(&r, t0).unwrap();
    }
    w.close_at(t0).unwrap();
    let p = dir.path().join("cluster.log");
    let text = read(&p);
    assert!(!text.contains('#'), "JSON logs have no header");
    assert_eq!(
        text.lines().next().unwrap(),
        r#"{"ts":1700000000.0,"node":"logger-1","message":"plain","tags":["a","b"]}"#
    );
    // Our own strict JSON reader accepts every line.
    for l in text.lines() {
        crate::json::parse(l).unwrap();
    }
    let script = r#"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [r["message"] for r in rows] == ["plain", "quote \" backslash \\ tab \t", "ünïcödé", "bad \\xff byte\\x01"], [r["message"] for r in rows]
# Nanoseconds to seconds as Zeek converts a Broker timestamp: (double)ns / 1e9.
assert [r["ts"] for r in rows] == [(1700000000000000000 + i * 250000000) / 1e9 for i in range(4)]
assert "peer" not in rows[0] and rows[1]["peer"] == "127.0.0.1"
print("ok", len(rows))
"#;
    match std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&p)
        .output()
    {
        Ok(out) => assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok 4",
            "python: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("python3 not available: JSON checked with our own parser only"),
    }
}

#[test]
fn writer_rejects_bad_input() {
    let dir = TempDir::new("bad");
    let e =
        LogWriter::new(dir.path(), "", cluster_log_fields(), LogFormat::Ascii, None).unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::InvalidArgument);
    let none: Vec<LogField> = vec![];
    assert!(LogWriter::new(dir.path(), "x", none, LogFormat::Ascii, None).is_err());
    assert!(LogWriter::new(
        dir.path(),
        "x",
        [("a\tb", ZeekType::Count)],
        LogFormat::Ascii,
        None
    )
    .is_err());
    assert!(LogWriter::new(
        dir.path(),
        "x",
        [("a", ZeekType::Count), ("a", ZeekType::Int)],
        LogFormat::Ascii,
        None
    )
    .is_err());
    assert!(LogWriter::new(
        dir.path(),
        "x",
        [("a", ZeekType::Count)],
        LogFormat::Ascii,
        Some(Duration::ZERO)
    )
    .is_err());
    let mut w = LogWriter::new(
        dir.path(),
        "x",
        [("a", ZeekType::Count), ("b", ZeekType::String)],
        LogFormat::Ascii,
        None,
    )
    .unwrap();
    let e = w.write(&[Value::Count(1)]).unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::InvalidArgument);
    assert!(e.message.contains("a, b"), "{e}");
    let e = w.write(&[Value::Integer(1), s(b"x")]).unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::Type);
    assert!(e.message.contains("field \"a\" is a count"), "{e}");
    let e = w
        .write(&[Value::Count(1), Value::Vector(vec![])])
        .unwrap_err();
    assert_eq!(e.kind, crate::ErrorKind::Type);
    // Nothing was written by the failed calls.
    assert!(dir.files().is_empty());
    w.write(&[Value::None, Value::None]).unwrap();
    w.close().unwrap();
    assert!(read(&dir.path().join("x.log")).contains("\n-\t-\n"));
}

/// Messages that exercise every escaping rule a cluster.log can meet.
fn tricky_messages() -> Vec<&'static [u8]> {
    vec![
        b"got hello from manager (a1b2)",
        b"tab\there",
        b"new\nline and cr\r",
        b"-",
        b"(empty)",
        b"",
        b"#looks like a header",
        b"back\\slash and \\x41 literal",
        b"comma,separated",
        "ünïcödé 🚀".as_bytes(),
        b"bad \xff\xfe bytes \x01",
    ]
}

/// Writes `cluster.log` in `fmt` with [`tricky_messages`] plus `expected.jsonl` for
/// tests/zeeklog/check_with_zat.py; returns (log path, expected path).
fn write_sample_cluster_log(dir: &Path, fmt: LogFormat) -> (PathBuf, PathBuf) {
    let mut w = LogWriter::new(dir, "cluster", cluster_log_fields(), fmt, None).unwrap();
    let mut expected = String::new();
    for (i, m) in tricky_messages().into_iter().enumerate() {
        let ns = 1_700_000_000_000_000_000i64 + i as i64 * 123_456_789;
        let node = if i % 2 == 0 { "worker-1" } else { "proxy-1" };
        w.write(&[Value::Timestamp(ns), s(node.as_bytes()), s(m)])
            .unwrap();
        let hex: String = m.iter().map(|b| format!("{b:02x}")).collect();
        expected.push_str(&format!(
            "{{\"ts\":{},\"node\":\"{node}\",\"message_hex\":\"{hex}\"}}\n",
            ns as f64 / 1e9
        ));
    }
    w.close().unwrap();
    let exp = dir.join("expected.jsonl");
    std::fs::write(&exp, expected).unwrap();
    (dir.join("cluster.log"), exp)
}

/// Runs tests/zeeklog/check_with_zat.py (zat and parsezeeklogs from PyPI) on our
/// cluster.log in both formats. Skipped when python3 or both packages are missing
/// (exit 77); any other failure fails the test.
#[test]
fn third_party_zeek_readers_parse_our_cluster_log() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/zeeklog/check_with_zat.py"
    );
    for fmt in [LogFormat::Ascii, LogFormat::Json] {
        let dir = TempDir::new("zat");
        let (log, exp) = write_sample_cluster_log(dir.path(), fmt);
        let out = match std::process::Command::new("python3")
            .arg(script)
            .arg(&log)
            .arg(&exp)
            .output()
        {
            Ok(o) => o,
            Err(_) => {
                eprintln!("python3 not available: third-party reader check skipped");
                return;
            }
        };
        match out.status.code() {
            Some(0) => {
                let report = String::from_utf8_lossy(&out.stdout);
                assert!(report.contains("\"rows\""), "{report}");
            }
            Some(77) => eprintln!("neither zat nor parsezeeklogs importable: check skipped"),
            _ => panic!(
                "{fmt:?}: check_with_zat.py failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

/// Zeek's unescaping as readers apply it (`\xHH` is a byte, `\\` a backslash).
fn zeek_unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && b.len() >= i + 4 {
            let h = std::str::from_utf8(&b[i + 2..i + 4])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match h {
                Some(v) => {
                    out.push(v);
                    i += 4;
                }
                None => {
                    out.push(b[i]);
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

proptest::proptest! {
    #[test]
    fn ascii_string_cells_round_trip(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..64)) {
        let fields = [f("a", ZeekType::String), f("b", ZeekType::Set(Box::new(ZeekType::String)))];
        let line = ascii::record(&AsciiOptions::default(), &fields, &[s(&bytes), set_of(&[&bytes, b"x"])]);
        proptest::prop_assert_eq!(line.last(), Some(&b'\n'));
        let body = &line[..line.len() - 1];
        proptest::prop_assert!(!body.contains(&b'\n') && !body.contains(&b'\r'));
        proptest::prop_assert!(!body.starts_with(b"#"));
        let cells: Vec<&[u8]> = body.split(|c| *c == b'\t').collect();
        proptest::prop_assert_eq!(cells.len(), 2);
        proptest::prop_assert_eq!(zeek_unescape(cells[0]), bytes.clone());
        let elems: Vec<Vec<u8>> = cells[1].split(|c| *c == b',').map(zeek_unescape).collect();
        proptest::prop_assert!(elems.contains(&bytes) && elems.contains(&b"x".to_vec()));
        proptest::prop_assert_eq!(elems.len(), if bytes == b"x" { 1 } else { 2 });
    }

    #[test]
    fn json_lines_always_parse(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), d in proptest::prelude::any::<f64>()) {
        let fields = [f("s", ZeekType::String), f("d", ZeekType::Double), f("e", ZeekType::Enum)];
        let line = json::record(&fields, &[s(&bytes), Value::Real(d), Value::Enum(String::from_utf8_lossy(&bytes).into_owned())]);
        let text = std::str::from_utf8(&line).expect("JSON output is UTF-8");
        let v = crate::json::parse(text.trim_end()).expect("JSON output parses");
        if d.is_finite() {
            let got = v.get("d").and_then(|x| x.as_f64()).expect("d is a number");
            proptest::prop_assert_eq!(got.to_bits(), d.to_bits());
        }
        // Valid UTF-8 without controls comes back unchanged.
        if let Ok(t) = std::str::from_utf8(&bytes) {
            if t.chars().all(|c| !c.is_control() && !(('\u{e000}'..='\u{f8ff}').contains(&c)) && !(('\u{fff0}'..='\u{ffff}').contains(&c))) {
                proptest::prop_assert_eq!(v.get("s").and_then(|x| x.as_str()), Some(t));
            }
        }
    }
}

#[test]
fn a_log_path_must_stay_inside_the_log_directory() {
    let dir = TempDir::new("confined");
    for bad in [
        "../escape",
        "/tmp/zc-abs-escape",
        "a/../../b",
        "./x",
        "a/..",
    ] {
        let e = LogWriter::new(
            dir.path(),
            bad,
            cluster_log_fields(),
            LogFormat::Ascii,
            None,
        )
        .unwrap_err();
        assert!(
            e.message.contains("relative to the log directory"),
            "{bad}: {}",
            e.message
        );
    }
    // A subdirectory is a file inside the log directory.
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    let mut w = LogWriter::new(
        dir.path(),
        "sub/x",
        cluster_log_fields(),
        LogFormat::Ascii,
        None,
    )
    .unwrap();
    w.close().unwrap();
    assert!(!std::path::Path::new("/tmp/zc-abs-escape.log").exists());
}
