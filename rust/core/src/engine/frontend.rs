//! The server's front end (pool column `frontend_per_token_s`): what happens to a request between the
//! client sending it and the scheduler seeing it.
//!
//! Every stack infera imitates tokenizes a prompt on the CPU before the engine can queue it, and does so one
//! request at a time: vLLM's API server in one tokenizer thread, SGLang's `TokenizerManager` in the server
//! process, `trtllm-serve` in its asyncio loop. The cost grows with the prompt (tens of µs per token on the
//! development sets' random-token prompts, docs/validation-serving.md), so a long prompt's TTFT carries it,
//! and at high arrival rates requests queue for the tokenizer itself. A front end that tokenizes on several
//! threads (pool column `frontend_workers`: Dynamo's Rust front end, vLLM's `--api-server-count`) takes
//! that many requests at once, each to the worker free first. With 0 seconds per token nothing here runs and
//! every arrival reaches its scheduler as it comes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One instance's front end: its cost per prompt token and, for each of its workers, when it is done with
/// what it was given (the bits of a non-negative time order as the time does), the first free on top.
#[derive(Debug, Default, Clone)]
pub(crate) struct Frontend {
    per_token_s: f64,
    free_at: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Frontend {
    /// A front end of `workers` (at least one) tokenizing in parallel.
    pub fn new(per_token_s: f64, workers: u32) -> Frontend {
        Frontend {
            per_token_s,
            free_at: (0..workers.max(1))
                .map(|w| Reverse((0f64.to_bits(), w)))
                .collect(),
        }
    }

    /// Whether requests pass through the front end at all.
    pub fn active(&self) -> bool {
        self.per_token_s > 0.0
    }

    /// Takes a request of `prompt` tokens that arrived at `t` and returns when its scheduler sees it: after
    /// its worker has finished the requests given it before (arrival order) and its own tokenization. The
    /// worker is the one free first (the lowest index among equals, so runs repeat exactly).
    pub fn take(&mut self, t: f64, prompt: u32) -> f64 {
        let Reverse((free, w)) = self.free_at.pop().expect("a front end has a worker");
        let done = f64::from_bits(free).max(t) + self.per_token_s * prompt as f64;
        self.free_at.push(Reverse((done.to_bits(), w)));
        done
    }
}
