//! Store operations with Broker's semantics (`detail/appliers.hh`,
//! `detail/abstract_backend.cc`, `store.hh`), as pure functions on values and backends.
//!
//! Differences from Broker, on purpose: a type clash is returned as an `ErrorKind::Type`
//! error naming both types (Broker's master only logs it), and integer/count/time
//! arithmetic wraps explicitly (Broker relies on C++ unsigned wrap-around).

use super::backend::Backend;
use crate::data::{Address, Port, Protocol, Subnet, Value};
use crate::error::{Error, ErrorKind, Result};
use std::collections::{BTreeMap, BTreeSet};

/// Broker's type names (`data::type`, `variant_tag`), for messages.
pub fn type_name(tag: u8) -> &'static str {
    match tag {
        0 => "none",
        1 => "bool",
        2 => "count",
        3 => "integer",
        4 => "real",
        5 => "string",
        6 => "address",
        7 => "subnet",
        8 => "port",
        9 => "timestamp",
        10 => "timespan",
        11 => "enum",
        12 => "set",
        13 => "table",
        14 => "vector",
        _ => "unknown",
    }
}

/// The highest valid `data::type` value (vector).
pub const MAX_TYPE_TAG: u8 = 14;

/// Broker's `data::from_type`: the zero value a missing key starts from in `add`.
pub fn zero_of(tag: u8) -> Result<Value> {
    Ok(match tag {
        0 => Value::None,
        1 => Value::Bool(false),
        2 => Value::Count(0),
        3 => Value::Integer(0),
        4 => Value::Real(0.0),
        5 => Value::String(Vec::new()),
        6 => Value::Address(Address([0; 16])),
        7 => Value::Subnet(Subnet {
            network: Address([0; 16]),
            length: 0,
        }),
        8 => Value::Port(Port {
            number: 0,
            protocol: Protocol::Unknown,
        }),
        9 => Value::Timestamp(0),
        10 => Value::Timespan(0),
        11 => Value::Enum(String::new()),
        12 => Value::Set(BTreeSet::new()),
        13 => Value::Table(BTreeMap::new()),
        14 => Value::Vector(Vec::new()),
        t => {
            return Err(Error::invalid(format!(
                "init type {t} is not a Broker type (0..=14)"
            )))
        }
    })
}

/// The init type `store::increment` picks from the amount: count, integer and real start
/// from their own zero; a timespan amount starts a timestamp; anything else `none`
/// (which makes `add` on a missing key fail).
pub fn increment_init_type(amount: &Value) -> u8 {
    match amount {
        Value::Count(_) => 2,
        Value::Integer(_) => 3,
        Value::Real(_) => 4,
        Value::Timespan(_) => 9,
        _ => 0,
    }
}

fn clash(op: &str, target: &Value, operand: &Value) -> Error {
    Error::type_mismatch(format!(
        "cannot {op} a {} {} a {}",
        type_name(operand.tag()),
        if op == "add" { "to" } else { "from" },
        type_name(target.tag())
    ))
}

/// Broker's `adder`: numbers add (same type), timestamp += timespan, strings concatenate,
/// vectors push, sets insert, tables take a `[key, value]` vector.
pub fn add_to(target: &mut Value, operand: &Value) -> Result<()> {
    match (&mut *target, operand) {
        (Value::Count(c), Value::Count(x)) => *c = c.wrapping_add(*x),
        (Value::Integer(c), Value::Integer(x)) => *c = c.wrapping_add(*x),
        (Value::Real(c), Value::Real(x)) => *c += *x,
        (Value::Timespan(c), Value::Timespan(x)) => *c = c.wrapping_add(*x),
        (Value::Timestamp(c), Value::Timespan(x)) => *c = c.wrapping_add(*x),
        (Value::String(s), Value::String(x)) => s.extend_from_slice(x),
        (Value::Vector(v), x) => v.push(x.clone()),
        (Value::Set(s), x) => {
            s.insert(x.clone());
        }
        (Value::Table(t), Value::Vector(pair)) => {
            if pair.len() != 2 {
                return Err(Error::type_mismatch(format!(
                    "inserting into a table needs a [key, value] pair, got a vector of {}",
                    pair.len()
                )));
            }
            t.insert(pair[0].clone(), pair[1].clone());
        }
        _ => return Err(clash("add", target, operand)),
    }
    Ok(())
}

/// Broker's `remover`: numbers subtract, timestamp -= timespan, vectors pop (operand
/// ignored), sets and tables erase the operand.
pub fn subtract_from(target: &mut Value, operand: &Value) -> Result<()> {
    match (&mut *target, operand) {
        (Value::Count(c), Value::Count(x)) => *c = c.wrapping_sub(*x),
        (Value::Integer(c), Value::Integer(x)) => *c = c.wrapping_sub(*x),
        (Value::Real(c), Value::Real(x)) => *c -= *x,
        (Value::Timespan(c), Value::Timespan(x)) => *c = c.wrapping_sub(*x),
        (Value::Timestamp(c), Value::Timespan(x)) => *c = c.wrapping_sub(*x),
        (Value::Vector(v), _) => {
            v.pop();
        }
        (Value::Set(s), x) => {
            s.remove(x);
        }
        (Value::Table(t), x) => {
            t.remove(x);
        }
        _ => return Err(clash("subtract", target, operand)),
    }
    Ok(())
}

/// Broker's `retriever` (`get_index_from_value`): a vector element by count or
/// non-negative integer index, set membership as a bool, a table's value; any other value
/// is returned whole, as Broker does.
pub fn retrieve(value: &Value, aspect: &Value) -> Result<Value> {
    match value {
        Value::Vector(v) => {
            let idx = match aspect {
                Value::Count(c) => *c,
                Value::Integer(i) if *i >= 0 => *i as u64,
                other => {
                    return Err(Error::type_mismatch(format!(
                        "a vector is indexed by a count or a non-negative integer, not a {}",
                        type_name(other.tag())
                    )))
                }
            };
            usize::try_from(idx)
                .ok()
                .and_then(|i| v.get(i))
                .cloned()
                .ok_or_else(|| {
                    Error::not_found(format!(
                        "index {idx} is out of range (vector of {})",
                        v.len()
                    ))
                })
        }
        Value::Set(s) => Ok(Value::Bool(s.contains(aspect))),
        Value::Table(t) => t
            .get(aspect)
            .cloned()
            .ok_or_else(|| Error::not_found("no such key in the table value")),
        other => Ok(other.clone()),
    }
}

/// `add` on a backend (master side): missing key starts from `zero_of(init_type)`;
/// returns the new value. `expiry` is absolute (ns since the epoch) and replaces any old one.
pub fn apply_add(
    backend: &mut dyn Backend,
    key: &Value,
    operand: &Value,
    init_type: u8,
    expiry: Option<i64>,
) -> Result<Value> {
    let mut v = match backend.get(key)? {
        Some(v) => v,
        None => {
            if init_type == 0 {
                return Err(Error::type_mismatch(format!(
                    "cannot add a {} to a missing key without an init type",
                    type_name(operand.tag())
                )));
            }
            zero_of(init_type)?
        }
    };
    add_to(&mut v, operand)?;
    backend.put(key, &v, expiry)?;
    Ok(v)
}

/// `subtract` on a backend: a missing key is an error (Broker: `no_such_key`).
pub fn apply_subtract(
    backend: &mut dyn Backend,
    key: &Value,
    operand: &Value,
    expiry: Option<i64>,
) -> Result<Value> {
    let mut v = backend
        .get(key)?
        .ok_or_else(|| Error::new(ErrorKind::NotFound, "cannot subtract from a missing key"))?;
    subtract_from(&mut v, operand)?;
    backend.put(key, &v, expiry)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::String(x.as_bytes().to_vec())
    }

    #[test]
    fn numbers_add_and_subtract_within_their_type() {
        let mut c = Value::Count(5);
        add_to(&mut c, &Value::Count(3)).unwrap();
        assert_eq!(c, Value::Count(8));
        subtract_from(&mut c, &Value::Count(10)).unwrap();
        assert_eq!(
            c,
            Value::Count(u64::MAX - 1),
            "count wraps like Broker's uint64"
        );
        let mut i = Value::Integer(-2);
        add_to(&mut i, &Value::Integer(5)).unwrap();
        assert_eq!(i, Value::Integer(3));
        let mut r = Value::Real(1.5);
        subtract_from(&mut r, &Value::Real(0.25)).unwrap();
        assert_eq!(r, Value::Real(1.25));
        let mut ts = Value::Timestamp(100);
        add_to(&mut ts, &Value::Timespan(50)).unwrap();
        assert_eq!(ts, Value::Timestamp(150));
        subtract_from(&mut ts, &Value::Timespan(25)).unwrap();
        assert_eq!(ts, Value::Timestamp(125));
        let mut sp = Value::Timespan(7);
        add_to(&mut sp, &Value::Timespan(3)).unwrap();
        assert_eq!(sp, Value::Timespan(10));
    }

    #[test]
    fn type_clashes_are_type_errors_naming_both_types() {
        let mut c = Value::Count(1);
        let e = add_to(&mut c, &Value::Integer(1)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Type);
        assert!(
            e.message.contains("integer") && e.message.contains("count"),
            "{}",
            e.message
        );
        assert_eq!(c, Value::Count(1), "failed op leaves the value untouched");
        let mut st = s("abc");
        let e = add_to(&mut st, &Value::Count(1)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Type);
        let e = subtract_from(&mut st, &s("c")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Type, "strings cannot be subtracted");
        let mut ts = Value::Timestamp(1);
        assert_eq!(
            add_to(&mut ts, &Value::Timestamp(1)).unwrap_err().kind,
            ErrorKind::Type
        );
        let mut b = Value::Bool(true);
        assert_eq!(
            add_to(&mut b, &Value::Bool(true)).unwrap_err().kind,
            ErrorKind::Type
        );
    }

    #[test]
    fn containers() {
        let mut st = s("ab");
        add_to(&mut st, &s("cd")).unwrap();
        assert_eq!(st, s("abcd"));
        let mut v = Value::Vector(vec![]);
        add_to(&mut v, &Value::Count(1)).unwrap();
        add_to(&mut v, &s("x")).unwrap();
        assert_eq!(v, Value::Vector(vec![Value::Count(1), s("x")]));
        subtract_from(&mut v, &Value::None).unwrap();
        assert_eq!(v, Value::Vector(vec![Value::Count(1)]));
        subtract_from(&mut v, &Value::None).unwrap();
        subtract_from(&mut v, &Value::None).unwrap();
        assert_eq!(
            v,
            Value::Vector(vec![]),
            "pop on empty vector is a no-op as in Broker"
        );
        let mut set = Value::Set(BTreeSet::new());
        add_to(&mut set, &Value::Count(3)).unwrap();
        add_to(&mut set, &Value::Count(3)).unwrap();
        assert_eq!(retrieve(&set, &Value::Count(3)).unwrap(), Value::Bool(true));
        subtract_from(&mut set, &Value::Count(3)).unwrap();
        assert_eq!(
            retrieve(&set, &Value::Count(3)).unwrap(),
            Value::Bool(false)
        );
        let mut t = Value::Table(BTreeMap::new());
        add_to(&mut t, &Value::Vector(vec![s("k"), Value::Count(9)])).unwrap();
        assert_eq!(retrieve(&t, &s("k")).unwrap(), Value::Count(9));
        let e = add_to(&mut t, &Value::Vector(vec![s("k")])).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Type);
        assert!(e.message.contains("pair"));
        assert_eq!(add_to(&mut t, &s("k")).unwrap_err().kind, ErrorKind::Type);
        subtract_from(&mut t, &s("k")).unwrap();
        assert_eq!(retrieve(&t, &s("k")).unwrap_err().kind, ErrorKind::NotFound);
    }

    #[test]
    fn retrieve_from_vectors_and_scalars() {
        let v = Value::Vector(vec![s("a"), s("b")]);
        assert_eq!(retrieve(&v, &Value::Count(1)).unwrap(), s("b"));
        assert_eq!(retrieve(&v, &Value::Integer(0)).unwrap(), s("a"));
        assert_eq!(
            retrieve(&v, &Value::Count(2)).unwrap_err().kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            retrieve(&v, &Value::Integer(-1)).unwrap_err().kind,
            ErrorKind::Type
        );
        assert_eq!(retrieve(&v, &s("0")).unwrap_err().kind, ErrorKind::Type);
        assert_eq!(
            retrieve(&Value::Count(4), &Value::Count(0)).unwrap(),
            Value::Count(4)
        );
    }

    #[test]
    fn zero_values_and_init_types() {
        for tag in 0..=MAX_TYPE_TAG {
            assert_eq!(zero_of(tag).unwrap().tag(), tag);
        }
        assert_eq!(zero_of(15).unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(increment_init_type(&Value::Count(1)), 2);
        assert_eq!(increment_init_type(&Value::Integer(1)), 3);
        assert_eq!(increment_init_type(&Value::Real(1.0)), 4);
        assert_eq!(increment_init_type(&Value::Timespan(1)), 9);
        assert_eq!(increment_init_type(&s("x")), 0);
    }
}
