//! The event heap: what happens next, in time order, and the order of events that happen at one instant.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Event classes, ordered for simultaneous events: step ends first, then transfer ends, then queue
/// timeouts, then arrivals, then requests their front end has finished with, then idle instances waking, so
/// everything that happens at one instant is seen by the step it triggers. Events of one class at one instant keep the order they were pushed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Class {
    StepEnd,
    TransferEnd,
    Timeout,
    Arrival,
    Received,
    Wake,
}

/// Order-preserving key of a non-negative time.
fn time_key(t: f64) -> u64 {
    t.max(0.0).to_bits()
}

/// Pending events: (time key, class, insertion sequence, subject), smallest first. The subject is an
/// instance for step ends and wakes, a request otherwise.
#[derive(Default)]
pub(crate) struct Events {
    heap: BinaryHeap<Reverse<(u64, Class, u64, u32)>>,
    next_seq: u64,
}

impl Events {
    pub fn push(&mut self, t: f64, class: Class, subject: u32) {
        self.next_seq += 1;
        self.heap
            .push(Reverse((time_key(t), class, self.next_seq, subject)));
    }

    /// Whether an event of `class` at `t` that is kept off the heap comes before every event on it.
    pub fn precedes(&self, t: f64, class: Class) -> bool {
        match self.heap.peek() {
            None => true,
            Some(Reverse((key, c, _, _))) => (time_key(t), class) < (*key, *c),
        }
    }

    /// The next event: (time, class, subject).
    pub fn pop(&mut self) -> Option<(f64, Class, u32)> {
        self.heap
            .pop()
            .map(|Reverse((key, class, _, subject))| (f64::from_bits(key), class, subject))
    }
}
