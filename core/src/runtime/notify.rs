//! A core-local "wake everyone waiting" signal (no atomics, no `Send`): used for drain
//! (wake idle connections so they close) and for "a connection slot is free" (wake the
//! accept loop held back by `max_connections`).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Debug, Default)]
pub struct Notify {
    epoch: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
}

impl Notify {
    pub fn notify_all(&self) {
        self.epoch.set(self.epoch.get() + 1);
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// A future that completes at the next `notify_all` after this call.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            epoch: self.epoch.get(),
            registered: false,
        }
    }
}

pub struct Notified<'a> {
    notify: &'a Notify,
    epoch: u64,
    registered: bool,
}

impl Future for Notified<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.epoch.get() != self.epoch {
            return Poll::Ready(());
        }
        // Register once per epoch: a task polled again for another reason (a select's
        // other branch) must not pile up wakers.
        if !self.registered {
            self.notify.waiters.borrow_mut().push(cx.waker().clone());
            self.registered = true;
        }
        Poll::Pending
    }
}
