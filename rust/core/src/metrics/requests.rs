//! Per-request rows: what each request went through, its TPOT, and whether it met its run's SLOs.

use crate::engine::{Req, Status, NO_INSTANCE};

/// Per-request output columns (the `requests` table).
#[derive(Default)]
pub struct RequestRows {
    pub run: Vec<u32>,
    pub status: Vec<Status>,
    pub request_id: Vec<u64>,
    pub prefill_pool: Vec<u32>,
    pub prefill_instance: Vec<u32>,
    pub decode_pool: Vec<u32>,
    pub decode_instance: Vec<u32>,
    pub arrival_s: Vec<f64>,
    pub first_scheduled_s: Vec<f64>,
    pub first_token_s: Vec<f64>,
    pub finish_s: Vec<f64>,
    pub prompt_tokens: Vec<u32>,
    pub output_tokens: Vec<u32>,
    pub kv_wait_s: Vec<f64>,
    pub kv_transfer_s: Vec<f64>,
    pub prefills: Vec<u32>,
    pub transfers: Vec<u32>,
    pub preemptions: Vec<u32>,
    pub tpot_mean_s: Vec<Option<f64>>,
    pub tpot_p99_s: Vec<Option<f64>>,
    pub slo_met: Vec<bool>,
    /// Prompt tokens found in a prefix cache instead of computed (reported when the plan has prefixes).
    pub cached_tokens: Vec<u64>,
    /// The request's class, numbered across the plan's workloads in order (`None`: no classes).
    pub class: Vec<Option<u32>>,
}

/// What a request row says beyond the request's own state.
pub(crate) struct Derived {
    pub tpot_mean: Option<f64>,
    pub tpot_p99: Option<f64>,
    pub slo_met: bool,
    pub class: Option<u32>,
}

impl RequestRows {
    /// Makes room for `n` more rows.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.run.reserve(n);
        self.status.reserve(n);
        self.request_id.reserve(n);
        self.prefill_pool.reserve(n);
        self.prefill_instance.reserve(n);
        self.decode_pool.reserve(n);
        self.decode_instance.reserve(n);
        self.arrival_s.reserve(n);
        self.first_scheduled_s.reserve(n);
        self.first_token_s.reserve(n);
        self.finish_s.reserve(n);
        self.prompt_tokens.reserve(n);
        self.output_tokens.reserve(n);
        self.kv_wait_s.reserve(n);
        self.kv_transfer_s.reserve(n);
        self.prefills.reserve(n);
        self.transfers.reserve(n);
        self.preemptions.reserve(n);
        self.tpot_mean_s.reserve(n);
        self.tpot_p99_s.reserve(n);
        self.slo_met.reserve(n);
        self.cached_tokens.reserve(n);
        self.class.reserve(n);
    }

    /// Appends request `id` of run `run`; `place` gives an instance's (pool, index within the pool).
    pub(crate) fn push(
        &mut self,
        run: u32,
        id: u64,
        req: &Req,
        place: impl Fn(usize) -> (u32, u32),
        d: Derived,
    ) {
        // A rejected request was never prefilled: it is reported on the instance that turned it away.
        let pre_i = if req.prefill_instance == NO_INSTANCE {
            req.instance
        } else {
            req.prefill_instance
        } as usize;
        let dec_i = if req.decode_instance == NO_INSTANCE {
            pre_i
        } else {
            req.decode_instance as usize
        };
        let (pre_pool, pre_local) = place(pre_i);
        let (dec_pool, dec_local) = place(dec_i);
        self.run.push(run);
        self.status.push(req.status);
        self.request_id.push(id);
        self.prefill_pool.push(pre_pool);
        self.prefill_instance.push(pre_local);
        self.decode_pool.push(dec_pool);
        self.decode_instance.push(dec_local);
        self.arrival_s.push(req.arrival);
        self.first_scheduled_s.push(req.first_sched);
        self.first_token_s.push(req.first_token);
        self.finish_s.push(req.finish);
        self.prompt_tokens.push(req.prompt);
        self.output_tokens.push(req.output);
        self.kv_wait_s.push(req.kv_wait_s);
        self.kv_transfer_s.push(req.kv_transfer_s);
        self.prefills.push(req.prefills);
        self.transfers.push(req.transfers);
        self.preemptions.push(req.preemptions);
        self.tpot_mean_s.push(d.tpot_mean);
        self.tpot_p99_s.push(d.tpot_p99);
        self.slo_met.push(d.slo_met);
        self.cached_tokens.push(req.cached_tokens);
        self.class.push(d.class);
    }
}
