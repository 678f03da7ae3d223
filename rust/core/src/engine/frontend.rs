//! The server's front end (pool column `frontend_per_token_s`): what happens to a request between the
//! client sending it and the scheduler seeing it.
//!
//! Every stack infera imitates tokenizes a prompt on the CPU before the engine can queue it, and does so one
//! request at a time: vLLM's API server in one tokenizer thread, SGLang's `TokenizerManager` in the server
//! process, `trtllm-serve` in its asyncio loop. The cost grows with the prompt (tens of µs per token on the
//! development sets' random-token prompts, docs/validation-serving.md), so a long prompt's TTFT carries it,
//! and at high arrival rates requests queue for the tokenizer itself. With 0 seconds per token nothing here
//! runs and every arrival reaches its scheduler as it comes.

/// One instance's front end: its cost per prompt token and when it is done with what it was given.
#[derive(Debug, Default, Clone)]
pub(crate) struct Frontend {
    per_token_s: f64,
    free_at: f64,
}

impl Frontend {
    pub fn new(per_token_s: f64) -> Frontend {
        Frontend {
            per_token_s,
            free_at: 0.0,
        }
    }

    /// Whether requests pass through the front end at all.
    pub fn active(&self) -> bool {
        self.per_token_s > 0.0
    }

    /// Takes a request of `prompt` tokens that arrived at `t` and returns when its scheduler sees it: after
    /// the requests before it (arrival order) and its own tokenization.
    pub fn take(&mut self, t: f64, prompt: u32) -> f64 {
        self.free_at = self.free_at.max(t) + self.per_token_s * prompt as f64;
        self.free_at
    }
}
