//! The services that ride on an endpoint, composed as a list behind the one `Hook` trait.
//!
//! Each stage sees, in order, every message the stages before it passed on (delivered
//! through `HookCtx::deliver`); whatever the last stage passes on goes to the host. A stage
//! that takes a message (a store command, a framework event) simply does not pass it on.
//! Publishes, subscriptions and undecodable reports of every stage go to the endpoint as
//! before; what a stage delivers from `on_tick` goes to the host directly. So the data
//! stores, the cluster framework and a host's own hook are stages of one list, not hooks
//! nested in each other.

use super::{Hook, HookCtx, Message};
use std::sync::Arc;
use std::time::Instant;

/// Hooks run as one, in order (see the module docs).
#[derive(Default)]
pub struct Services(Vec<Box<dyn Hook>>);

impl Services {
    pub fn new(stages: Vec<Box<dyn Hook>>) -> Services {
        Services(stages)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Puts a stage before the others (it sees every message first).
    pub fn push_front(&mut self, stage: Box<dyn Hook>) {
        self.0.insert(0, stage);
    }

    pub fn push(&mut self, stage: Box<dyn Hook>) {
        self.0.push(stage);
    }
}

impl Hook for Services {
    fn on_message(&mut self, msg: Message, ctx: &mut HookCtx) {
        let Some((last, first)) = self.0.split_last_mut() else {
            ctx.deliver(msg);
            return;
        };
        let mut batch = vec![msg];
        for stage in first {
            let mut next = Vec::new();
            for m in batch.drain(..) {
                let before = ctx.deliver.len();
                stage.on_message(m, ctx);
                next.extend(ctx.deliver.drain(before..));
            }
            batch = next;
        }
        for m in batch {
            last.on_message(m, ctx);
        }
    }

    fn on_tick(&mut self, now: Instant, ctx: &mut HookCtx) {
        for stage in &mut self.0 {
            stage.on_tick(now, ctx);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.0.iter().filter_map(|s| s.next_deadline()).min()
    }
}

/// The data stores (`crate::store::StoreService`) as a stage: takes the command messages
/// on store topics, sees (never takes) peering statuses, runs the stores' timers.
pub(crate) struct StoresStage {
    stores: Arc<crate::store::StoreService>,
    /// Close the service when the stage goes (its endpoint is gone): for a service that
    /// only this stage carries (`StoreService::hook`), not one its owner keeps.
    close_on_drop: bool,
}

impl StoresStage {
    /// A stage for stores whose owner (an endpoint, a cluster) closes them.
    pub(crate) fn new(stores: Arc<crate::store::StoreService>) -> StoresStage {
        StoresStage {
            stores,
            close_on_drop: false,
        }
    }

    /// A stage that closes the stores when it is dropped: nothing will carry their
    /// traffic any more.
    pub(crate) fn owning(stores: Arc<crate::store::StoreService>) -> StoresStage {
        StoresStage {
            stores,
            close_on_drop: true,
        }
    }
}

impl Hook for StoresStage {
    fn on_message(&mut self, msg: Message, ctx: &mut HookCtx) {
        if !self.stores.on_message(&msg, ctx) {
            ctx.deliver(msg);
        }
    }
    fn on_tick(&mut self, now: Instant, ctx: &mut HookCtx) {
        self.stores.on_tick(now, ctx);
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.stores.next_deadline()
    }
}

impl Drop for StoresStage {
    fn drop(&mut self) {
        if self.close_on_drop {
            self.stores.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{MessageKind, PeerInfo};
    use crate::wire::EndpointId;

    /// Takes messages whose text starts with its tag, passes the others on tagged.
    struct Stage(&'static str);

    impl Hook for Stage {
        fn on_message(&mut self, mut msg: Message, ctx: &mut HookCtx) {
            if msg.text.starts_with(self.0) {
                ctx.publish(self.0, Vec::new());
                return;
            }
            msg.text.push_str(self.0);
            ctx.deliver(msg);
        }
    }

    fn msg(text: &str) -> Message {
        let peer = PeerInfo {
            id: None,
            address: String::new(),
            port: 0,
        };
        Message::status(MessageKind::PeerAdded, peer, text)
    }

    #[test]
    fn stages_run_in_order_and_take_what_is_theirs() {
        let mut s = Services::new(vec![Box::new(Stage("a")), Box::new(Stage("b"))]);
        let mut ctx = HookCtx::new(EndpointId::NIL);
        for t in ["a1", "b1", "c1"] {
            s.on_message(msg(t), &mut ctx);
        }
        let texts: Vec<&str> = ctx.deliver.iter().map(|m| m.text.as_str()).collect();
        // "a1" is taken by the first stage; "b1" passes the first and is taken by the
        // second; "c1" passes both.
        assert_eq!(texts, ["c1ab"]);
        assert_eq!(ctx.commands.len(), 2);
        let mut empty = Services::default();
        empty.on_message(msg("x"), &mut ctx);
        assert_eq!(ctx.deliver.len(), 2);
    }
}
