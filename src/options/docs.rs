//! The catalogue as documentation: `docs/options.md` (checked by a test) and the listing
//! of `zcluster options`.

use super::{all, in_scope, Scope, Spec, Type};

/// The accepted values of a type, in a few words.
fn values(ty: Type) -> String {
    match ty {
        Type::Enum(names) => names.join(", "),
        other => other.name().to_string(),
    }
}

fn names(s: &Spec) -> String {
    std::iter::once(s.name)
        .chain(s.aliases.iter().copied())
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The whole of `docs/options.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# zcluster options\n\n\
         Generated from the catalogue in `src/options/catalogue.rs` by\n\
         `ZC_UPDATE_DOCS=1 cargo test --lib options::docs` (a test fails while this file is\n\
         stale); `zcluster options` prints the same table. Do not edit by hand.\n\n\
         ## Values\n\n\
         Every path (C `*_options_set`, Python, the `redef`s of `.zeek`/`.bro` layouts and of\n\
         zeekctl-config.zeek, the `options` of JSON layouts) reads values with one grammar:\n\n\
         | Type | Text |\n|---|---|\n\
         | bool | `T`, `F`, `true`, `false` (any case), `1`, `0` |\n\
         | interval | Zeek's constants: a number, optional blanks, `usec`, `msec`, `sec`, `min`, `hr` or `day`, optionally plural (`10 secs`, `1.0 min`, `250msecs`, `2 hrs`, `1 day`); several terms add up (`1.0 min 30.0 secs`); a plain number is seconds (`2.5`); also `us`, `ms`, `s` (`250ms`, not Zeek's) |\n\
         | count | a non-negative integer (`0x` hex too) |\n\
         | int | an integer (`-1`) |\n\
         | double | a number |\n\
         | port | `27760/tcp` (`udp`, `icmp`, `unknown`); a bare number is TCP |\n\
         | addr | IPv4 or IPv6, brackets optional (`127.0.0.1`, `::1`, `[::1]`) |\n\
         | string | the text as is, or one Zeek string literal (`\"a\\tb\"`) |\n\
         | pattern | `/re/` or the bare regular expression |\n\
         | enum | the full constant (`Broker::SQLITE`), its last part (`SQLITE`), or without the shared prefix (`FULL`, `ZeroMQ`); short forms in any case |\n\n\
         In a `.zeek`/`.bro` layout a value is a Zeek constant and must have the option's type\n\
         (`5` is a count, not an interval). Python passes `bool` and `datetime.timedelta`\n\
         (as seconds) through the same grammar.\n",
    );
    for scope in Scope::ALL {
        out.push_str(&format!(
            "\n## {}\n\n| Name | Type | Default | Description |\n|---|---|---|---|\n",
            scope.title()
        ));
        for s in in_scope(scope) {
            let default = if s.default.is_empty() {
                String::new()
            } else {
                format!("`{}`", s.default)
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&names(s)),
                cell(&values(s.ty)),
                cell(&default),
                cell(s.doc)
            ));
        }
    }
    out
}

/// One option as `zcluster options` prints it: scope, names, type, default, then the doc.
pub fn entry(s: &Spec) -> String {
    let default = if s.default.is_empty() {
        "\"\"".to_string()
    } else {
        s.default.to_string()
    };
    format!(
        "{:<9} {} ({}, default {default})\n          {}\n",
        s.scope.name(),
        std::iter::once(s.name)
            .chain(s.aliases.iter().copied())
            .collect::<Vec<_>>()
            .join(" | "),
        values(s.ty),
        s.doc
    )
}

/// A plain-text listing (`zcluster options`) of every option, or of one scope's.
pub fn listing(scope: Option<Scope>) -> String {
    all()
        .iter()
        .filter(|s| scope.is_none_or(|x| x == s.scope))
        .map(entry)
        .collect()
}

/// The catalogue as JSON (`zc_options_catalogue_json`): an array of objects with `scope`,
/// `name`, `aliases`, `type` (Zeek's type name), `values` (an enum's constants, else
/// empty), `default` (option text) and `doc`, in table order.
pub fn json() -> String {
    use crate::json::quote;
    let list = |items: &[&str]| {
        let v: Vec<String> = items.iter().map(|s| quote(s)).collect();
        format!("[{}]", v.join(","))
    };
    let items: Vec<String> = all()
        .iter()
        .map(|s| {
            let values: &[&str] = match s.ty {
                Type::Enum(names) => names,
                _ => &[],
            };
            format!(
                "{{\"scope\":{},\"name\":{},\"aliases\":{},\"type\":{},\"values\":{},\"default\":{},\"doc\":{}}}",
                quote(s.scope.name()),
                quote(s.name),
                list(s.aliases),
                quote(s.ty.name()),
                list(values),
                quote(s.default),
                quote(s.doc)
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_options_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/options.md");
        let want = super::markdown();
        if std::env::var_os("ZC_UPDATE_DOCS").is_some() {
            std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/docs")).unwrap();
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/options.md is stale: regenerate it with ZC_UPDATE_DOCS=1 cargo test --lib options::docs"
        );
    }
}
