//! `zcluster options`: the option catalogue (`zcluster::options`) as a listing, as
//! docs/options.md, or one option's value checked with the library's grammar.

use crate::cli::OptionsArgs;
use crate::{exit, Failure, Res};
use zcluster::options::{self, docs, Scope};

pub fn main(a: OptionsArgs) -> Res {
    let scope = match &a.scope {
        None => None,
        Some(s) => Some(Scope::from_name(s).ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                format!(
                    "--scope {s}: expected one of {}",
                    Scope::ALL.map(|s| s.name()).join(", ")
                ),
            )
        })?),
    };
    if a.markdown {
        print!("{}", docs::markdown());
        return Ok(());
    }
    let Some(name) = a.name else {
        print!("{}", docs::listing(scope));
        return Ok(());
    };
    let scopes: Vec<Scope> = match scope {
        Some(s) => vec![s],
        None => Scope::ALL.to_vec(),
    };
    // The name may be an option of several scopes (Broker::disable_ssl).
    let found: Vec<_> = scopes
        .iter()
        .filter_map(|sc| options::find(&[*sc], &name))
        .collect();
    if found.is_empty() {
        let hint = options::suggest(&scopes, &name)
            .map(|n| format!("did you mean {n}? "))
            .unwrap_or_default();
        return Err(Failure::new(
            exit::NOT_FOUND,
            format!("unknown option \"{name}\" ({hint}`zcluster options` lists them all)"),
        ));
    }
    for spec in found {
        match &a.value {
            None => print!("{}", docs::entry(spec)),
            Some(v) => {
                let parsed = spec.parse(v)?;
                let text = match parsed {
                    options::OptionValue::String(s) => s,
                    other => other.to_string(),
                };
                println!("{}", text.trim_start_matches('+'));
            }
        }
    }
    Ok(())
}
