//! How often an instance's scheduler takes in new requests (pool column `recv_interval`).
//!
//! SGLang's scheduler (`--scheduler-recv-interval N`, `managers/scheduler_recv_skipper.py`) reads its input
//! socket only when a counter reaches N: each decode step adds 1, a step with prefill work adds 1000, and an
//! idle loop spins and so receives at once. Requests sent meanwhile wait in the socket, unseen by the
//! scheduler, and their TTFT grows by up to N decode steps. With N = 1 (every stack's default) nothing here
//! runs and every arrival joins its instance's queue as it comes.

use super::Sim;

/// What the last step added to SGLang's counter when it carried prefill work (`_DEFAULT_WEIGHT`).
const PREFILL_WEIGHT: u64 = 1000;

/// The requests an instance has not taken in yet, and the counter that decides when it does.
#[derive(Default)]
pub(crate) struct Inbox {
    interval: u64,
    count: u64,
    pending: Vec<u32>,
}

impl Inbox {
    pub fn new(interval: u64) -> Inbox {
        Inbox {
            interval: interval.max(1),
            ..Inbox::default()
        }
    }

    /// Whether an arrival must wait in the inbox: the instance is running a step and polls only every
    /// `interval` steps. An idle scheduler receives at once.
    pub fn holds(&self, busy: bool) -> bool {
        self.interval > 1 && busy
    }

    pub fn push(&mut self, r: u32) {
        self.pending.push(r);
    }

    /// The step that just ended counts towards the next poll; the pending requests, if it is due now.
    pub fn step_ended(&mut self, had_prefill: bool) -> Vec<u32> {
        if self.interval <= 1 {
            return Vec::new();
        }
        self.count += if had_prefill { PREFILL_WEIGHT } else { 1 };
        if self.count < self.interval {
            return Vec::new();
        }
        self.count = 0;
        std::mem::take(&mut self.pending)
    }

    /// Everything pending, for an instance that would otherwise go idle (its idle loop polls at once).
    pub fn drain(&mut self) -> Vec<u32> {
        self.count = 0;
        std::mem::take(&mut self.pending)
    }
}

impl Sim<'_> {
    /// Takes the requests instance `i` has received at `t` into its queue, in arrival order.
    pub(super) fn take_in(&mut self, i: usize, reqs: Vec<u32>, t: f64) {
        for r in reqs {
            self.admit(r, i, t);
        }
    }
}
