//! A core-local "wake everyone waiting" signal (no atomics, no `Send`): used for drain
//! (wake idle connections so they close) and for "a connection slot is free" (wake the
//! accept loop held back by `max_connections`).
//!
//! Invariant: a waiter's waker is held only while its `Notified` is alive and no
//! `notify_all` has happened since it registered. A `Notified` that loses a `select!`
//! (the usual case: the read wins) removes its waker on drop, so the table holds at most
//! one entry per live waiter; it never grows with the number of connections served.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Debug, Default)]
pub struct Notify {
    epoch: Cell<u64>,
    waiters: RefCell<Waiters>,
}

#[derive(Debug, Default)]
struct Waiters {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Notify {
    pub fn notify_all(&self) {
        self.epoch.set(self.epoch.get() + 1);
        let slots = {
            let mut w = self.waiters.borrow_mut();
            w.free.clear();
            std::mem::take(&mut w.slots)
        };
        for waker in slots.into_iter().flatten() {
            waker.wake();
        }
    }

    /// A future that completes at the next `notify_all` after this call.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            epoch: self.epoch.get(),
            slot: None,
        }
    }

    /// Wakers held now (for tests).
    pub fn waiting(&self) -> usize {
        self.waiters
            .borrow()
            .slots
            .iter()
            .filter(|s| s.is_some())
            .count()
    }
}

pub struct Notified<'a> {
    notify: &'a Notify,
    epoch: u64,
    slot: Option<usize>,
}

impl Future for Notified<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.epoch.get() != self.epoch {
            self.slot = None;
            return Poll::Ready(());
        }
        let mut w = self.notify.waiters.borrow_mut();
        match self.slot {
            // Polled again (a select's other branch woke the task): refresh the waker.
            Some(i) => w.slots[i] = Some(cx.waker().clone()),
            None => {
                let i = match w.free.pop() {
                    Some(i) => {
                        w.slots[i] = Some(cx.waker().clone());
                        i
                    }
                    None => {
                        w.slots.push(Some(cx.waker().clone()));
                        w.slots.len() - 1
                    }
                };
                drop(w);
                self.slot = Some(i);
            }
        }
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        // After a notify_all the table was emptied and the slot is no longer ours.
        if let (Some(i), true) = (self.slot, self.notify.epoch.get() == self.epoch) {
            let mut w = self.notify.waiters.borrow_mut();
            w.slots[i] = None;
            w.free.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll_once(f: &mut Pin<&mut Notified<'_>>) -> Poll<()> {
        let mut cx = Context::from_waker(Waker::noop());
        f.as_mut().poll(&mut cx)
    }

    #[test]
    fn dropped_waiters_leave_no_waker_behind() {
        let n = Notify::default();
        for _ in 0..1000 {
            let mut f = std::pin::pin!(n.notified());
            assert!(poll_once(&mut f).is_pending());
            assert!(
                poll_once(&mut f).is_pending(),
                "a second poll reuses the slot"
            );
            assert_eq!(n.waiting(), 1);
        }
        assert_eq!(n.waiting(), 0, "each dropped Notified removed its waker");
        assert!(
            n.waiters.borrow().slots.len() <= 1,
            "slots are reused, not grown"
        );
    }

    #[test]
    fn notify_all_wakes_live_waiters() {
        let n = Notify::default();
        let mut a = std::pin::pin!(n.notified());
        let mut b = std::pin::pin!(n.notified());
        assert!(poll_once(&mut a).is_pending());
        assert!(poll_once(&mut b).is_pending());
        n.notify_all();
        assert_eq!(n.waiting(), 0);
        assert!(poll_once(&mut a).is_ready());
        assert!(poll_once(&mut b).is_ready());
        // A waiter created after the notification waits for the next one.
        let mut c = std::pin::pin!(n.notified());
        assert!(poll_once(&mut c).is_pending());
    }
}
