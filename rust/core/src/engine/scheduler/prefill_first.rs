//! The `prefill_first` policy: while any prefill can be scheduled, steps carry prefill only and decodes
//! stall (vLLM before v0.6 by default).

use super::{NewScheduler, Scheduler};

pub(super) const ENTRY: NewScheduler = || Box::new(PrefillFirst);

struct PrefillFirst;

impl Scheduler for PrefillFirst {
    fn carries_decodes(&self, decoders: u64, prefill_ready: &mut dyn FnMut() -> bool) -> bool {
        decoders > 0 && !prefill_ready()
    }
}
