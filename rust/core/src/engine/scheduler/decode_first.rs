//! The `decode_first` policy: every step carries all running decodes, then fills the token budget with
//! prefill (vLLM v1, Sarathi).

use super::{NewScheduler, Scheduler};

pub(super) const ENTRY: NewScheduler = || Box::new(DecodeFirst);

struct DecodeFirst;

impl Scheduler for DecodeFirst {
    fn carries_decodes(&self, decoders: u64, _prefill_ready: &mut dyn FnMut() -> bool) -> bool {
        decoders > 0
    }
}
