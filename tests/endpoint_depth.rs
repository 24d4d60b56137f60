//! Values at the nesting limit travel, and the I/O thread's stack takes everything a hook
//! does with them there (decode, clone, compare, encode, drop).

mod endpoint_common;
use endpoint_common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use zcluster::data::bin::{self, DEFAULT_MAX_DEPTH};
use zcluster::data::Value;
use zcluster::endpoint::{Endpoint, EndpointOptions, Hook, HookCtx, Message, MessageKind};

/// `levels` nested one-element vectors around `leaf`.
fn nested(levels: usize, leaf: Value) -> Value {
    let mut v = leaf;
    for _ in 0..levels {
        v = Value::Vector(vec![v]);
    }
    v
}

struct Deep(Arc<AtomicUsize>);

impl Hook for Deep {
    fn on_message(&mut self, msg: Message, ctx: &mut HookCtx) {
        if msg.kind == MessageKind::Event {
            // On the I/O thread: every recursive operation on a value at the limit.
            let v = bin::decode(&msg.payload).expect("decodes at the limit");
            let w = v.clone();
            assert!(v == w && v.cmp(&w).is_eq());
            assert_eq!(bin::encode_to_vec(&w), msg.payload);
            drop((v, w));
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        ctx.deliver(msg);
    }
}

#[test]
fn values_at_the_nesting_limit_survive_the_io_thread() {
    let seen = Arc::new(AtomicUsize::new(0));
    let a = Endpoint::with_hook(
        EndpointOptions::default(),
        Some(Box::new(Deep(seen.clone()))),
    )
    .unwrap();
    let b = ep();
    connect(&a, &b);
    a.subscribe("/deep").unwrap();
    assert!(b.await_peer_subscription("/deep", T));
    // A vector at the limit, and a set of two values one level less deep that differ only
    // at the bottom (the decoder compares them all the way down).
    // (Built as bytes: comparing such values here would need more than a test thread's
    // 2 MB of stack in a debug build, which is the point of the I/O thread's larger one.)
    let vector = bin::encode_to_vec(&nested(DEFAULT_MAX_DEPTH, Value::Count(1)));
    let mut set = vec![0x0c, 2];
    set.extend(bin::encode_to_vec(&nested(
        DEFAULT_MAX_DEPTH - 1,
        Value::Count(1),
    )));
    set.extend(bin::encode_to_vec(&nested(
        DEFAULT_MAX_DEPTH - 1,
        Value::Count(2),
    )));
    for p in [&vector, &set] {
        b.publish("/deep", p.clone()).unwrap();
        let m = next_data(&a, T).expect("delivered");
        assert_eq!(m.payload, *p);
    }
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    // One level more is dropped and reported; the peering stays.
    let mut over = vec![0x0e, 1];
    over.extend_from_slice(&vector);
    b.publish("/deep", over).unwrap();
    let m = expect_kind(&a, &[MessageKind::DeserializationFailed]);
    assert!(m.text.contains("nesting deeper than 4096"), "{}", m.text);
    assert_eq!(m.peer.unwrap().id, Some(b.id()));
    assert_eq!(a.peers().len(), 1);
    b.publish_value("/deep", &Value::Count(3)).unwrap();
    assert_eq!(next_data(&a, T).unwrap().value().unwrap(), Value::Count(3));
}
