//! The front end's queue: requests pass one at a time, in arrival order, each for its prompt's cost.

use super::frontend::Frontend;

#[test]
fn no_cost_per_token_means_no_front_end() {
    assert!(!Frontend::new(0.0, 1).active());
    assert!(Frontend::new(1e-6, 1).active());
}

#[test]
fn a_lone_request_waits_for_its_own_tokens_only() {
    let mut fe = Frontend::new(20e-6, 1);
    assert!((fe.take(1.0, 1000) - 1.02).abs() < 1e-12);
    // Idle again by 2.0: the next one starts at its own arrival.
    assert!((fe.take(2.0, 500) - 2.01).abs() < 1e-12);
}

#[test]
fn simultaneous_requests_queue_behind_each_other() {
    let mut fe = Frontend::new(10e-6, 1);
    let first = fe.take(0.0, 1000);
    let second = fe.take(0.0, 1000);
    let third = fe.take(0.005, 100);
    assert!((first - 0.01).abs() < 1e-12);
    assert!((second - 0.02).abs() < 1e-12);
    // Arrived while the front end was busy: starts when the second is done.
    assert!((third - 0.021).abs() < 1e-12);
}

#[test]
fn parallel_workers_take_simultaneous_requests_at_once() {
    let mut fe = Frontend::new(10e-6, 2);
    // Two workers: the first two start at once, the third waits for the first worker free.
    assert!((fe.take(0.0, 1000) - 0.01).abs() < 1e-12);
    assert!((fe.take(0.0, 500) - 0.005).abs() < 1e-12);
    assert!((fe.take(0.0, 100) - 0.006).abs() < 1e-12);
    // Zero workers is read as one.
    let mut one = Frontend::new(10e-6, 0);
    one.take(0.0, 1000);
    assert!((one.take(0.0, 1000) - 0.02).abs() < 1e-12);
}
