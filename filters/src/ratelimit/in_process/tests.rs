use std::thread;

use super::*;
use crate::ratelimit::LimitKey;

fn ex(key: u64, epoch: u64, limit: i64, want: i64) -> Exchange {
    Exchange {
        key: LimitKey(key),
        epoch,
        limit,
        returned: 0,
        charged: 0,
        want,
        prev_returned: 0,
        spans_prev: false,
        expires_at_ms: 0,
    }
}

fn grant(cell: &InProcessCell, ex: &Exchange) -> Grant {
    match cell.exchange(ex) {
        Reply::Ready(g) => g,
        other => panic!("{other:?}"),
    }
}

#[test]
fn grants_stop_at_the_limit_per_key_and_window() {
    let cell = InProcessCell::new(64);
    assert_eq!(grant(&cell, &ex(1, 0, 10, 7)).granted, 7);
    let g = grant(&cell, &ex(1, 0, 10, 7));
    assert_eq!((g.granted, g.taken), (3, 10));
    assert_eq!(grant(&cell, &ex(2, 0, 10, 7)).granted, 7);
    // Key 0 is a key like any other.
    assert_eq!(grant(&cell, &ex(0, 0, 10, 10)).granted, 10);
    assert_eq!(grant(&cell, &ex(0, 0, 10, 1)).granted, 0);
    let back = Exchange {
        returned: 4,
        charged: 6,
        ..ex(1, 0, 10, 1)
    };
    assert_eq!(
        grant(&cell, &back),
        Grant {
            epoch: 0,
            granted: 0,
            taken: 12
        }
    );
}

#[test]
fn a_new_window_starts_afresh_and_late_exchanges_land_in_theirs() {
    let cell = InProcessCell::new(64);
    assert_eq!(grant(&cell, &ex(1, 0, 10, 10)).granted, 10);
    assert_eq!(grant(&cell, &ex(1, 1, 10, 8)).granted, 8);
    // A core still in window 0 gives back 5 and asks for 5: the return goes to window
    // 0, the grant comes from window 1, which the answer names.
    let late = Exchange {
        returned: 5,
        ..ex(1, 0, 10, 5)
    };
    assert_eq!(
        grant(&cell, &late),
        Grant {
            epoch: 1,
            granted: 2,
            taken: 10
        }
    );
    let prev = cell.root.load_full().unwrap().prev.load_full().unwrap();
    assert_eq!(
        prev.with_slot(1, false, |s| s.taken.load(Ordering::Relaxed)),
        Some(5)
    );
    // Two windows on, window 0 is gone.
    grant(&cell, &ex(1, 3, 10, 1));
    assert!(cell.root.load_full().unwrap().prev.load_full().is_none());
}

#[test]
fn tables_grow_without_giving_a_key_two_budgets() {
    let cell = InProcessCell::new(8_192);
    for pass in 0..3 {
        for k in 0..5_000 {
            let g = grant(&cell, &ex(k * 7_919, 0, 2, 1));
            assert_eq!(g.granted, i64::from(pass < 2), "key {k} pass {pass}");
        }
    }
    assert_eq!(cell.live_keys(), 5_000);
    // The next window's table is sized from this one's keys.
    grant(&cell, &ex(1, 1, 2, 1));
    assert!(cell.root.load_full().unwrap().slots.len() >= 8_192);
}

#[test]
fn a_full_cell_answers_unavailable() {
    let cell = InProcessCell::new(32);
    let mut unavailable = 0;
    for k in 0..1_000 {
        if cell.exchange(&ex(k, 0, 5, 1)) == Reply::Unavailable {
            unavailable += 1;
        }
    }
    assert!(cell.live_keys() <= 64);
    assert_eq!(unavailable, 1_000 - cell.live_keys());
}

#[test]
fn threads_racing_for_new_keys_never_split_a_budget() {
    let cell = Arc::new(InProcessCell::new(1 << 14));
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let cell = Arc::clone(&cell);
            thread::spawn(move || {
                let mut got = 0;
                for i in 0..4_000u64 {
                    // Each thread walks the keys in its own order.
                    let k = (i * (2 * t + 1)) % 4_000;
                    if let Reply::Ready(g) = cell.exchange(&ex(k, 0, 1, 1)) {
                        got += g.granted;
                    }
                }
                got
            })
        })
        .collect();
    let total: i64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 4_000);
    assert_eq!(cell.live_keys(), 4_000);
}

#[test]
fn a_generation_counts_the_permits_still_out_in_the_last() {
    let cell = InProcessCell::new(64);
    let conc = |epoch, want, back| Exchange {
        spans_prev: true,
        prev_returned: back,
        ..ex(9, epoch, 4, want)
    };
    assert_eq!(grant(&cell, &conc(0, 3, 0)).granted, 3);
    let g = grant(&cell, &conc(1, 4, 0));
    assert_eq!((g.granted, g.taken), (1, 4));
    // The three permits of generation 0 come back: generation 1 may use them.
    let g = grant(&cell, &conc(1, 4, 3));
    assert_eq!((g.granted, g.taken), (3, 4));
}
