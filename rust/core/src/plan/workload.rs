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
}
