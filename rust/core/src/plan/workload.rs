//! Traffic: a workload's arrival process and its requests.

#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    /// The arrival process, by its name in the engine's registry (`infera_core::engine::arrivals`).
    pub kind: String,
    pub users: u64,
    pub think_time_s: f64,
    /// No request is issued at or after this time (infinite when the traffic is bounded by count).
    pub duration_s: f64,
    /// Arrival times from the requests table (NaN where null).
    pub arrival_s: Vec<f64>,
    /// The first `requests` row of this workload whose `arrival_s` is not a finite time >= 0, for the
    /// arrival processes that read arrival times.
    pub invalid_arrival_row: Option<usize>,
    pub prompt_tokens: Vec<u32>,
    pub output_tokens: Vec<u32>,
    /// Closed loop: seconds from a user being ready to send each request to the request reaching the system
    /// (the benchmark client's ramp-up and jitter; optional column `requests.send_delay_s`, 0 when absent).
    pub send_delay_s: Vec<f64>,
    /// Sessions and agents (optional columns `requests.after` and `requests.think_s`): request `i` waits
    /// for the requests `after[after_offsets[i]..after_offsets[i + 1]]` (earlier requests of this workload)
    /// and is sent `think_s[i]` after the last of them left. All three are empty when the plan has no
    /// dependencies.
    pub after_offsets: Vec<usize>,
    pub after: Vec<u32>,
    pub think_s: Vec<f64>,
    /// Each request's leading prompt segments with chained identities (optional columns
    /// `requests.prefix_ids`, `prefix_tokens`, `output_prefix_id`; empty when absent).
    pub prefixes: Prefixes,
    /// Traffic classes (the optional `classes` table); empty: one class, the workload itself.
    pub classes: Vec<TrafficClass>,
    /// Each request's class, an index into `classes` (optional column `requests.class`); empty when the
    /// workload has no classes.
    pub class: Vec<u32>,
}

impl Workload {
    /// Whether any request waits for others.
    pub fn has_dependencies(&self) -> bool {
        !self.after.is_empty()
    }

    /// The requests request `r` waits for (none without dependencies).
    pub fn after_of(&self, r: usize) -> &[u32] {
        if self.after.is_empty() {
            &[]
        } else {
            &self.after[self.after_offsets[r]..self.after_offsets[r + 1]]
        }
    }

    /// The priority of request `i` (0 when the workload has no classes).
    pub fn priority(&self, i: usize) -> u32 {
        self.class
            .get(i)
            .map_or(0, |&c| self.classes[c as usize].priority)
    }
}

/// One class of a workload's traffic mix.
#[derive(Debug, Clone)]
pub struct TrafficClass {
    pub name: String,
    /// Waiting requests are admitted lowest priority first, ties in arrival order (as vLLM's
    /// `--scheduling-policy priority`); the default 0 everywhere keeps plain first-come first-served.
    pub priority: u32,
}

/// The shared-prefix segments of a workload's requests, in CSR form over the workload's own request
/// indices: request `i`'s segments are `ids[offsets[i]..offsets[i + 1]]` of `tokens[..]` tokens each.
/// Identities are chained: equal j-th ids mean equal first j segments (docs/prefix-caching.md).
#[derive(Debug, Clone, Default)]
pub struct Prefixes {
    /// Whether the plan carried the columns (results then report the cache's figures).
    pub present: bool,
    pub offsets: Vec<u32>,
    pub ids: Vec<u64>,
    pub tokens: Vec<u32>,
    /// The identity of request `i`'s prompt followed by its output (0: none).
    pub output_id: Vec<u64>,
}

impl Prefixes {
    /// Request `i`'s segments: (chained ids, tokens per segment).
    pub fn of(&self, i: usize) -> (&[u64], &[u32]) {
        if !self.present {
            return (&[], &[]);
        }
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        (&self.ids[a..b], &self.tokens[a..b])
    }

    /// The identity of request `i`'s prompt and output (0: none).
    pub fn output_of(&self, i: usize) -> u64 {
        if self.present {
            self.output_id[i]
        } else {
            0
        }
    }
}
