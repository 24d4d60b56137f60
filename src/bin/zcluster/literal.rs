//! Command-line literals for event arguments and store keys/values: Zeek-style plain
//! literals (`42`, `-5`, `1.5`, `T`, `"x"`, `10.0.0.1`, `10.0.0.0/8`, `80/tcp`, `5s`,
//! `Foo::BAR`) or any Broker value as Broker JSON (`{"@data-type":..,"data":..}`).

use zcluster::data::{json, Address, Port, Subnet, Value};

pub fn parse(text: &str) -> Result<Value, String> {
    let t = text.trim();
    let bad = |why: &str| Err(format!("bad literal '{text}': {why}"));
    if t.is_empty() {
        return bad("empty (write \"\" for the empty string)");
    }
    if t.starts_with('{') {
        return json::from_json(t).map_err(|e| format!("bad literal '{text}': {}", e.message));
    }
    if let Some(rest) = t.strip_prefix('"') {
        let Some(body) = rest.strip_suffix('"') else {
            return bad("a string needs a closing quote");
        };
        return unescape(body)
            .map(Value::String)
            .map_err(|e| format!("bad literal '{text}': {e}"));
    }
    match t {
        "T" | "true" => return Ok(Value::Bool(true)),
        "F" | "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(Value::Count)
            .or_else(|_| bad("out of range for a count"));
    }
    if let Some(d) = t.strip_prefix(['-', '+']) {
        if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) {
            return t
                .parse::<i64>()
                .map(Value::Integer)
                .or_else(|_| bad("out of range for an integer"));
        }
    }
    if let Ok(a) = t.parse::<std::net::IpAddr>() {
        return Ok(Value::Address(Address::from(a)));
    }
    if let Some((left, right)) = t.split_once('/') {
        if left.parse::<std::net::IpAddr>().is_ok() {
            return t
                .parse::<Subnet>()
                .map(Value::Subnet)
                .map_err(|e| format!("bad literal '{text}': {}", e.message));
        }
        if !left.is_empty() && left.bytes().all(|b| b.is_ascii_digit()) {
            if !matches!(right, "tcp" | "udp" | "icmp" | "?") {
                return bad("a port's protocol must be tcp, udp, icmp or ?");
            }
            return t
                .parse::<Port>()
                .map(Value::Port)
                .map_err(|e| format!("bad literal '{text}': {}", e.message));
        }
    }
    let numeric_start = t
        .trim_start_matches(['-', '+'])
        .starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if numeric_start {
        if let Ok(r) = t.parse::<f64>() {
            if t.contains(['.', 'e', 'E']) && r.is_finite() {
                return Ok(Value::Real(r));
            }
        }
        if let Ok(ns) = json::parse_timespan(t) {
            return Ok(Value::Timespan(ns));
        }
        return bad("not a number, address, subnet, port or timespan");
    }
    if is_enum(t) {
        return Ok(Value::Enum(t.to_string()));
    }
    bad("not a literal: quote a string (e.g. '\"text\"') or use Broker JSON")
}

/// `Module::NAME` (one or more `::`-separated identifiers).
fn is_enum(t: &str) -> bool {
    t.contains("::")
        && t.split("::").all(|p| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !p.starts_with(|c: char| c.is_ascii_digit())
        })
}

/// The escapes of Zeek's string literals: `\" \\ \n \t \r \xHH`.
fn unescape(body: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    let mut it = body.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some('"') => out.push(b'"'),
                Some('\\') => out.push(b'\\'),
                Some('n') => out.push(b'\n'),
                Some('t') => out.push(b'\t'),
                Some('r') => out.push(b'\r'),
                Some('x') => {
                    let h: String = it.by_ref().take(2).collect();
                    let b = u8::from_str_radix(&h, 16)
                        .map_err(|_| format!("bad escape \\x{h} (expected two hex digits)"))?;
                    out.push(b);
                }
                Some(o) => return Err(format!("unknown escape \\{o}")),
                None => return Err("a trailing backslash".to_string()),
            },
            '"' => return Err("an unescaped quote inside the string".to_string()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zcluster::data::Protocol;

    #[test]
    fn literals() {
        assert_eq!(parse("42"), Ok(Value::Count(42)));
        assert_eq!(parse("-5"), Ok(Value::Integer(-5)));
        assert_eq!(parse("+5"), Ok(Value::Integer(5)));
        assert_eq!(parse("1.5"), Ok(Value::Real(1.5)));
        assert_eq!(parse("T"), Ok(Value::Bool(true)));
        assert_eq!(parse("false"), Ok(Value::Bool(false)));
        assert_eq!(parse("\"x\""), Ok(Value::string("x")));
        assert_eq!(parse("\"a\\\"b\\x41\""), Ok(Value::string("a\"bA")));
        assert_eq!(parse("\"\""), Ok(Value::string("")));
        assert_eq!(
            parse("10.0.0.1"),
            Ok(Value::Address("10.0.0.1".parse().unwrap()))
        );
        assert_eq!(parse("::1"), Ok(Value::Address("::1".parse().unwrap())));
        assert_eq!(
            parse("10.0.0.0/8"),
            Ok(Value::Subnet("10.0.0.0/8".parse().unwrap()))
        );
        assert_eq!(
            parse("80/tcp"),
            Ok(Value::Port(Port {
                number: 80,
                protocol: Protocol::Tcp
            }))
        );
        assert_eq!(parse("5s"), Ok(Value::Timespan(5_000_000_000)));
        assert_eq!(parse("250ms"), Ok(Value::Timespan(250_000_000)));
        assert_eq!(
            parse("Notice::ACTION"),
            Ok(Value::Enum("Notice::ACTION".into()))
        );
        assert_eq!(
            parse("{\"@data-type\":\"count\",\"data\":7}"),
            Ok(Value::Count(7))
        );
        for bad in [
            "",
            "hello",
            "\"open",
            "80/xyz",
            "99999/tcp",
            "10.0.0.0/99",
            "1.2.3",
            "\"a\\q\"",
            "{\"@data-type\":\"count\"}",
            "18446744073709551616",
            "Foo::",
            "12abc",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.starts_with("bad literal"), "{bad}: {e}");
        }
    }
}
