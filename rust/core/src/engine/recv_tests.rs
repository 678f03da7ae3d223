//! The inbox's counter, step by step, as SGLang's `SchedulerRecvSkipper` counts.

use super::recv::Inbox;

#[test]
fn an_interval_of_one_never_holds_an_arrival() {
    let inbox = Inbox::new(1);
    assert!(!inbox.holds(true) && !inbox.holds(false));
}

#[test]
fn a_busy_scheduler_reads_every_nth_decode_step_and_after_every_prefill_step() {
    let mut inbox = Inbox::new(3);
    assert!(inbox.holds(true) && !inbox.holds(false));
    inbox.push(7);
    // Two decode steps count 1 and 2: not yet.
    assert!(inbox.step_ended(false).is_empty());
    assert!(inbox.step_ended(false).is_empty());
    // The third reads, and the count starts again.
    assert_eq!(inbox.step_ended(false), vec![7]);
    inbox.push(8);
    inbox.push(9);
    assert!(inbox.step_ended(false).is_empty());
    // A step with prefill work weighs 1000: the next loop reads, in arrival order.
    assert_eq!(inbox.step_ended(true), vec![8, 9]);
    inbox.push(10);
    assert_eq!(inbox.drain(), vec![10]);
    assert!(inbox.step_ended(false).is_empty() && inbox.step_ended(false).is_empty());
}
