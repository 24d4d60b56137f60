use super::*;

/// Deterministic xorshift so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Debug, Clone)]
enum Msg {
    ToConsumer(usize, ProducerOutput<usize, u64>),
    ToProducer(usize, ConsumerOutput<u64>),
}

struct Net {
    producer: Producer<usize, u64>,
    consumers: Vec<Consumer<usize, u64>>,
    delivered: Vec<Vec<u64>>,
    lost: Vec<Vec<u64>>,
    closed: Vec<usize>,
    in_flight: Vec<Msg>,
    rng: Rng,
}

impl Net {
    fn new(n: usize, seed: u64, tolerate_loss: bool) -> Self {
        Net {
            producer: Producer::new(5, 20),
            consumers: (0..n).map(|_| Consumer::new(tolerate_loss)).collect(),
            delivered: vec![Vec::new(); n],
            lost: vec![Vec::new(); n],
            closed: vec![0; n],
            in_flight: Vec::new(),
            rng: Rng(seed),
        }
    }

    fn collect(&mut self) {
        for o in self.producer.take_outputs() {
            match &o {
                ProducerOutput::Handshake { to, .. }
                | ProducerOutput::RetransmitFailed { to, .. } => {
                    self.in_flight.push(Msg::ToConsumer(*to, o.clone()))
                }
                ProducerOutput::Event { to: Some(to), .. } => {
                    self.in_flight.push(Msg::ToConsumer(*to, o.clone()))
                }
                ProducerOutput::Event { to: None, .. } | ProducerOutput::Heartbeat { .. } => {
                    for c in 0..self.consumers.len() {
                        self.in_flight.push(Msg::ToConsumer(c, o.clone()));
                    }
                }
                ProducerOutput::Dropped { .. } | ProducerOutput::HandshakeCompleted { .. } => {}
            }
        }
        for (i, c) in self.consumers.iter_mut().enumerate() {
            for o in c.take_outputs() {
                match o {
                    ConsumerOutput::Deliver { payload, .. } => self.delivered[i].push(payload),
                    ConsumerOutput::Lost { seq } => self.lost[i].push(seq),
                    ConsumerOutput::Closed { .. } => self.closed[i] += 1,
                    ConsumerOutput::ProducerTimeout => panic!("consumer {i} timed out"),
                    other => self.in_flight.push(Msg::ToProducer(i, other)),
                }
            }
        }
    }

    fn deliver(&mut self, m: Msg) {
        match m {
            Msg::ToConsumer(i, o) => {
                let c = &mut self.consumers[i];
                match o {
                    ProducerOutput::Handshake {
                        to,
                        offset,
                        heartbeat_interval,
                    } => {
                        assert_eq!(to, i);
                        c.handle_handshake(99, offset, heartbeat_interval);
                    }
                    ProducerOutput::Event { seq, payload, .. } => c.handle_event(seq, payload),
                    ProducerOutput::RetransmitFailed { seq, .. } => c.handle_retransmit_failed(seq),
                    ProducerOutput::Heartbeat { seq } => c.handle_heartbeat(seq),
                    _ => {}
                }
            }
            Msg::ToProducer(i, o) => match o {
                ConsumerOutput::Ack { seq } => self.producer.handle_ack(&i, seq),
                ConsumerOutput::Nack { seqs } => self.producer.handle_nack(&i, &seqs),
                _ => {}
            },
        }
    }

    /// Delivers in-flight messages in random order, dropping `drop`% and duplicating
    /// `dup`% of them.
    fn shuffle_deliver(&mut self, drop: u64, dup: u64) {
        let mut msgs = std::mem::take(&mut self.in_flight);
        while !msgs.is_empty() {
            let idx = (self.rng.next() % msgs.len() as u64) as usize;
            let m = msgs.swap_remove(idx);
            if self.rng.chance(drop) {
                continue;
            }
            if self.rng.chance(dup) {
                self.deliver(m.clone());
            }
            self.deliver(m);
        }
    }

    fn tick_all(&mut self) {
        self.producer.tick();
        for c in &mut self.consumers {
            c.tick();
        }
        self.collect();
    }
}

fn run(seed: u64, n: usize, events: u64, drop: u64, dup: u64) -> Net {
    let mut net = Net::new(n, seed, false);
    // Consumers find the producer by nack([0]) as a clone does.
    for _ in 0..3 {
        net.tick_all();
        net.shuffle_deliver(0, 0);
    }
    let mut produced = 0;
    let mut rounds = 0;
    while produced < events {
        for _ in 0..(net.rng.next() % 4) {
            if produced < events {
                produced += 1;
                net.producer.produce(produced);
            }
        }
        net.collect();
        net.shuffle_deliver(drop, dup);
        net.tick_all();
        net.shuffle_deliver(drop, dup);
        net.collect();
        rounds += 1;
        assert!(rounds < 100_000);
    }
    // Then a healthy network until everyone converged.
    for _ in 0..200 {
        net.tick_all();
        net.shuffle_deliver(0, 0);
        net.collect();
        if net.producer.idle()
            && net.consumers.iter().all(|c| c.idle())
            && net.delivered.iter().all(|d| d.len() as u64 == events)
        {
            break;
        }
    }
    net
}

#[test]
fn in_order_exactly_once_despite_loss_reordering_and_duplicates() {
    for seed in [1u64, 7, 42, 1234, 99_999] {
        let net = run(seed, 3, 300, 30, 20);
        let expected: Vec<u64> = (1..=300).collect();
        for (i, d) in net.delivered.iter().enumerate() {
            assert_eq!(d, &expected, "consumer {i}, seed {seed}");
        }
        assert!(net.producer.idle(), "all acked, seed {seed}");
        assert!(
            net.producer.unacknowledged().is_empty(),
            "buffer drained, seed {seed}"
        );
        assert_eq!(net.closed, vec![0, 0, 0]);
    }
}

#[test]
fn lossless_network_needs_no_retransmission() {
    let net = run(5, 2, 50, 0, 0);
    for d in &net.delivered {
        assert_eq!(d, &(1..=50).collect::<Vec<_>>());
    }
}

#[test]
fn sequence_numbers_start_after_one_and_nothing_is_kept_without_consumers() {
    let mut p: Producer<u8, &str> = Producer::default();
    assert_eq!(p.produce("dropped"), None, "no consumer: suppressed");
    assert_eq!(p.seq(), 1);
    assert!(p.add(1));
    assert!(!p.add(1));
    assert_eq!(
        p.take_outputs(),
        vec![ProducerOutput::Handshake {
            to: 1,
            offset: 1,
            heartbeat_interval: 5
        }]
    );
    assert_eq!(p.produce("a"), Some(2));
    p.handle_ack(&1, 2);
    assert_eq!(
        p.take_outputs(),
        vec![
            ProducerOutput::Event {
                to: None,
                seq: 2,
                payload: "a"
            },
            ProducerOutput::HandshakeCompleted { consumer: 1 }
        ]
    );
    assert!(p.idle());
}

#[test]
fn nack_zero_adds_a_consumer_and_repeats_the_handshake() {
    let mut p: Producer<u8, u8> = Producer::default();
    p.handle_nack(&3, &[0]);
    p.produce(9);
    p.handle_nack(&3, &[0]);
    let out = p.take_outputs();
    assert_eq!(
        out[0],
        ProducerOutput::Handshake {
            to: 3,
            offset: 1,
            heartbeat_interval: 5
        }
    );
    assert_eq!(
        out[2],
        ProducerOutput::Handshake {
            to: 3,
            offset: 1,
            heartbeat_interval: 5
        },
        "same offset again"
    );
    // Unsorted NACK drops the consumer.
    p.handle_nack(&3, &[5, 2]);
    assert!(matches!(
        p.take_outputs()[0],
        ProducerOutput::Dropped { consumer: 3, .. }
    ));
    assert!(!p.has_consumer(&3));
}

#[test]
fn heartbeats_and_consumer_timeout() {
    let mut p: Producer<u8, u8> = Producer::new(5, 4);
    p.add(1);
    p.take_outputs();
    let mut beats = 0;
    let mut dropped_at = None;
    for t in 1..=40 {
        p.tick();
        for o in p.take_outputs() {
            match o {
                ProducerOutput::Heartbeat { seq } => {
                    assert_eq!(seq, 1);
                    beats += 1
                }
                ProducerOutput::Dropped { consumer: 1, .. } => dropped_at = Some(t),
                _ => {}
            }
        }
    }
    assert_eq!(
        dropped_at,
        Some(20),
        "5 ticks x 4 heartbeats without an ack"
    );
    assert!(beats >= 4);
}

#[test]
fn consumer_nacks_gaps_and_acks_periodically() {
    let mut c: Consumer<u8, char> = Consumer::new(false);
    c.handle_handshake(7, 1, 5);
    assert_eq!(c.take_outputs(), vec![ConsumerOutput::Ack { seq: 1 }]);
    c.handle_event(2, 'a');
    c.handle_event(5, 'd');
    c.handle_event(5, 'd');
    assert_eq!(
        c.take_outputs(),
        vec![ConsumerOutput::Deliver {
            seq: 2,
            payload: 'a'
        }]
    );
    assert_eq!(c.buffered(), 1, "duplicate not buffered twice");
    let mut nacks = Vec::new();
    for _ in 0..4 {
        c.tick();
        for o in c.take_outputs() {
            if let ConsumerOutput::Nack { seqs } = o {
                nacks.push(seqs);
            }
        }
    }
    assert_eq!(nacks.first(), Some(&vec![3, 4]));
    c.handle_event(4, 'c');
    c.handle_event(3, 'b');
    let got: Vec<char> = c
        .take_outputs()
        .into_iter()
        .filter_map(|o| {
            if let ConsumerOutput::Deliver { payload, .. } = o {
                Some(payload)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(got, vec!['b', 'c', 'd']);
    assert!(c.idle());
    // A heartbeat announcing seq 7 reveals 6 and 7 as missing.
    c.handle_heartbeat(7);
    assert!(!c.idle());
    let mut nack = None;
    for _ in 0..4 {
        c.tick();
        for o in c.take_outputs() {
            if let ConsumerOutput::Nack { seqs } = o {
                nack.get_or_insert(seqs);
            }
        }
    }
    assert_eq!(nack, Some(vec![6, 7]));
}

#[test]
fn events_before_the_handshake_are_kept_or_discarded_by_offset() {
    let mut c: Consumer<u8, u8> = Consumer::new(false);
    c.handle_event(3, 30);
    c.handle_event(5, 50);
    c.handle_handshake(1, 3, 5); // stream starts at 4: 3 is old, 5 waits for 4
    assert_eq!(c.take_outputs(), vec![ConsumerOutput::Ack { seq: 3 }]);
    c.handle_event(4, 40);
    assert_eq!(
        c.take_outputs(),
        vec![
            ConsumerOutput::Deliver {
                seq: 4,
                payload: 40
            },
            ConsumerOutput::Deliver {
                seq: 5,
                payload: 50
            }
        ]
    );
    assert!(!c.handle_handshake(2, 0, 5), "repeated handshake ignored");
}

#[test]
fn lost_updates_close_a_clone_but_not_a_tolerant_consumer() {
    // Producer loses seq 2 from its buffer because its only other consumer acked it and
    // the consumer that missed it was not there yet: simulate with retransmit_failed.
    let mut strict: Consumer<u8, u8> = Consumer::new(false);
    strict.handle_handshake(1, 1, 5);
    strict.handle_event(3, 3);
    strict.handle_retransmit_failed(2);
    let out = strict.take_outputs();
    assert!(
        matches!(out.last(), Some(ConsumerOutput::Closed { reason }) if reason.contains("update 2")),
        "{out:?}"
    );
    assert!(!strict.initialized(), "reset: will ask for a new handshake");
    let mut asked = false;
    for _ in 0..3 {
        strict.tick();
        asked |= strict
            .take_outputs()
            .contains(&ConsumerOutput::Nack { seqs: vec![0] });
    }
    assert!(asked);

    let mut tolerant: Consumer<u8, u8> = Consumer::new(true);
    tolerant.handle_handshake(1, 1, 5);
    tolerant.handle_event(3, 3);
    tolerant.handle_retransmit_failed(2);
    let out = tolerant.take_outputs();
    assert!(out.contains(&ConsumerOutput::Lost { seq: 2 }));
    assert!(out.contains(&ConsumerOutput::Deliver { seq: 3, payload: 3 }));
}

#[test]
fn producer_answers_nacks_for_discarded_events_with_retransmit_failed() {
    let mut p: Producer<u8, u8> = Producer::default();
    p.add(1);
    p.add(2);
    p.produce(10);
    p.produce(11);
    p.handle_ack(&1, 3);
    p.handle_ack(&2, 2);
    assert_eq!(p.unacknowledged(), vec![(3, 11)]);
    p.take_outputs();
    p.handle_nack(&2, &[2, 3]);
    let out = p.take_outputs();
    assert!(out.contains(&ProducerOutput::RetransmitFailed { to: 2, seq: 2 }));
    assert!(out.contains(&ProducerOutput::Event {
        to: Some(2),
        seq: 3,
        payload: 11
    }));
}

#[test]
fn consumer_detects_a_silent_producer() {
    let mut c: Consumer<u8, u8> = Consumer::new(false);
    c.set_connection_timeout_factor(3);
    c.handle_handshake(1, 1, 5);
    c.take_outputs();
    let mut timed_out_at = None;
    for t in 1..=30 {
        if t < 6 {
            c.handle_heartbeat(1);
        }
        c.tick();
        if c.take_outputs().contains(&ConsumerOutput::ProducerTimeout) {
            timed_out_at = Some(t);
            break;
        }
    }
    assert_eq!(
        timed_out_at,
        Some(19),
        "last heard during tick 5, then 15 silent ticks (5..=19)"
    );
    assert!(!c.initialized());
}

#[test]
fn hostile_sequence_numbers_are_bounded() {
    let mut c: Consumer<u8, u8> = Consumer::new(false);
    c.handle_handshake(1, 1, 5);
    c.handle_event(u64::MAX, 1);
    c.handle_event(2 + MAX_OUT_OF_ORDER + 5, 1);
    assert_eq!(c.buffered(), 0);
    c.handle_heartbeat(u64::MAX);
    for _ in 0..5 {
        c.tick();
    }
    let nacked: usize = c
        .take_outputs()
        .into_iter()
        .map(|o| {
            if let ConsumerOutput::Nack { seqs } = o {
                seqs.len()
            } else {
                0
            }
        })
        .sum();
    assert!(
        nacked as u64 <= 2 * MAX_OUT_OF_ORDER,
        "nack lists stay bounded"
    );
}

// The scenarios of Broker's `internal/channel.test.cc`, replayed against our machines.

fn deliveries<P: Clone>(out: &[ConsumerOutput<P>]) -> Vec<P> {
    out.iter()
        .filter_map(|o| {
            if let ConsumerOutput::Deliver { payload, .. } = o {
                Some(payload.clone())
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn broker_scenario_adding_consumers_triggers_handshakes() {
    let mut p: Producer<&str, &str> = Producer::default();
    p.add("A");
    assert_eq!(p.seq(), 1);
    p.produce("abc");
    assert_eq!(p.seq(), 2);
    p.produce("def");
    p.add("B");
    p.produce("ghi");
    assert_eq!(p.seq(), 4);
    assert_eq!(p.unacknowledged().len(), 3);
    assert_eq!(
        p.take_outputs(),
        vec![
            ProducerOutput::Handshake {
                to: "A",
                offset: 1,
                heartbeat_interval: 5
            },
            ProducerOutput::Event {
                to: None,
                seq: 2,
                payload: "abc"
            },
            ProducerOutput::Event {
                to: None,
                seq: 3,
                payload: "def"
            },
            ProducerOutput::Handshake {
                to: "B",
                offset: 3,
                heartbeat_interval: 5
            },
            ProducerOutput::Event {
                to: None,
                seq: 4,
                payload: "ghi"
            },
        ]
    );
}

#[test]
fn broker_scenario_acks_delete_elements_from_the_buffer() {
    let mut p: Producer<&str, &str> = Producer::default();
    for c in ["A", "B", "C"] {
        p.add(c);
    }
    for x in ["a", "b", "c", "d"] {
        p.produce(x);
    }
    let seqs = |p: &Producer<&str, &str>| {
        p.unacknowledged()
            .iter()
            .map(|(s, _)| *s)
            .collect::<Vec<_>>()
    };
    assert_eq!(seqs(&p), vec![2, 3, 4, 5]);
    p.handle_ack(&"A", 3);
    p.handle_ack(&"B", 4);
    assert_eq!(seqs(&p).len(), 4);
    p.handle_ack(&"C", 5);
    assert_eq!(seqs(&p), vec![4, 5]);
    p.handle_ack(&"A", 5);
    assert_eq!(seqs(&p), vec![5]);
    p.handle_ack(&"B", 5);
    assert!(seqs(&p).is_empty());
}

#[test]
fn broker_scenario_nacks_cause_retransmission_or_retransmit_failed() {
    let mut p: Producer<&str, &str> = Producer::default();
    p.add("A");
    p.add("B");
    for x in ["a", "b", "c", "d"] {
        p.produce(x);
    }
    p.take_outputs();
    p.handle_nack(&"A", &[0]);
    assert_eq!(
        p.take_outputs(),
        vec![ProducerOutput::Handshake {
            to: "A",
            offset: 1,
            heartbeat_interval: 5
        }]
    );
    p.handle_nack(&"B", &[2, 4]);
    let out: Vec<_> = p
        .take_outputs()
        .into_iter()
        .filter(|o| matches!(o, ProducerOutput::Event { .. }))
        .collect();
    assert_eq!(
        out,
        vec![
            ProducerOutput::Event {
                to: Some("B"),
                seq: 2,
                payload: "a"
            },
            ProducerOutput::Event {
                to: Some("B"),
                seq: 4,
                payload: "c"
            }
        ]
    );
    p.handle_ack(&"A", 5);
    p.handle_ack(&"B", 5);
    assert!(p.unacknowledged().is_empty());
    p.take_outputs();
    p.handle_nack(&"B", &[2, 4]);
    assert_eq!(
        p.take_outputs(),
        vec![
            ProducerOutput::RetransmitFailed { to: "B", seq: 2 },
            ProducerOutput::RetransmitFailed { to: "B", seq: 4 }
        ]
    );
}

#[test]
fn broker_scenario_consumers_process_events_in_order() {
    let mut c: Consumer<&str, &str> = Consumer::new(false);
    c.handle_handshake("P", 0, 3);
    for (seq, x, buffered) in [
        (4, "d", 1),
        (5, "e", 2),
        (5, "e", 2),
        (2, "b", 3),
        (3, "c", 4),
        (1, "a", 0),
        (1, "a", 0),
    ] {
        c.handle_event(seq, x);
        assert_eq!(c.buffered(), buffered, "after event {seq}");
    }
    assert_eq!(deliveries(&c.take_outputs()).concat(), "abcde");
}

#[test]
fn broker_scenario_consumers_process_nil_events_if_retransmits_fail() {
    let mut c: Consumer<&str, &str> = Consumer::new(true);
    c.handle_handshake("P", 0, 3);
    c.handle_event(4, "d");
    c.handle_event(6, "f");
    c.handle_retransmit_failed(5);
    c.handle_event(2, "b");
    c.handle_retransmit_failed(2); // no effect on a received event
    c.handle_retransmit_failed(3);
    c.handle_event(3, "c"); // arrives before the loss is processed: counts
    assert_eq!(c.buffered(), 5);
    c.handle_event(1, "a");
    let rendered: String = c
        .take_outputs()
        .into_iter()
        .filter_map(|o| match o {
            ConsumerOutput::Deliver { payload, .. } => Some(payload.to_string()),
            ConsumerOutput::Lost { .. } => Some("?".to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(rendered, "abcd?f");
    // A consumer that does not tolerate losses closes at the first one.
    let mut strict: Consumer<&str, &str> = Consumer::new(false);
    strict.handle_handshake("P", 6, 3);
    strict.handle_event(9, "i");
    strict.handle_retransmit_failed(8);
    strict.handle_event(7, "g");
    let out = strict.take_outputs();
    assert_eq!(deliveries(&out), vec!["g"]);
    assert!(matches!(out.last(), Some(ConsumerOutput::Closed { .. })));
}

#[test]
fn broker_scenario_consumers_buffer_events_until_the_handshake() {
    let mut c: Consumer<&str, &str> = Consumer::new(false);
    c.handle_event(3, "a");
    c.handle_event(4, "b");
    c.handle_event(5, "c");
    c.handle_handshake("P", 2, 3);
    assert_eq!(c.buffered(), 0);
    assert_eq!(deliveries(&c.take_outputs()).concat(), "abc");
}

#[test]
fn broker_scenario_consumers_send_cumulative_acks() {
    let mut c: Consumer<&str, &str> = Consumer::new(false);
    c.handle_handshake("P", 1, 1);
    c.take_outputs();
    c.tick();
    assert_eq!(c.take_outputs(), vec![ConsumerOutput::Ack { seq: 1 }]);
    c.tick();
    assert_eq!(c.take_outputs(), vec![ConsumerOutput::Ack { seq: 1 }]);
    c.handle_event(2, "a");
    c.handle_event(3, "b");
    c.tick();
    let out = c.take_outputs();
    assert_eq!(deliveries(&out).concat(), "ab");
    assert_eq!(out.last(), Some(&ConsumerOutput::Ack { seq: 3 }));
}

#[test]
fn broker_scenario_consumers_nack_incomplete_data() {
    let mut c: Consumer<&str, &str> = Consumer::new(false);
    c.set_nack_timeout(3);
    assert_eq!(c.num_ticks(), 0);
    c.handle_handshake("P", 1, 5);
    assert_eq!(c.take_outputs(), vec![ConsumerOutput::Ack { seq: 1 }]);
    c.tick();
    assert_eq!((c.num_ticks(), c.idle_ticks()), (1, 0));
    c.handle_event(5, "d");
    c.handle_event(3, "b");
    c.handle_event(8, "g");
    c.tick();
    assert_eq!((c.num_ticks(), c.idle_ticks()), (2, 1));
    c.tick();
    assert_eq!((c.num_ticks(), c.idle_ticks()), (3, 2));
    assert!(c.take_outputs().is_empty());
    c.tick();
    assert_eq!((c.num_ticks(), c.idle_ticks()), (4, 0));
    assert_eq!(
        c.take_outputs(),
        vec![ConsumerOutput::Nack {
            seqs: vec![2, 4, 6, 7]
        }]
    );
    c.tick();
    assert_eq!((c.num_ticks(), c.idle_ticks()), (5, 1));
    assert_eq!(
        c.take_outputs(),
        vec![ConsumerOutput::Ack { seq: 1 }],
        "an ack every 5 ticks even without progress"
    );
}
