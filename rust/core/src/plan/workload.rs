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
    /// Traffic classes (the optional `classes` table); empty: one class, the workload itself.
    pub classes: Vec<TrafficClass>,
    /// Each request's class, an index into `classes` (optional column `requests.class`); empty when the
    /// workload has no classes.
    pub class: Vec<u32>,
}

/// One class of a workload's traffic mix.
#[derive(Debug, Clone)]
pub struct TrafficClass {
    pub name: String,
    /// Waiting requests are admitted lowest priority first, ties in arrival order (as vLLM's
    /// `--scheduling-policy priority`); the default 0 everywhere keeps plain first-come first-served.
    pub priority: u32,
}

impl Workload {
    /// The priority of request `i` (0 when the workload has no classes).
    pub fn priority(&self, i: usize) -> u32 {
        self.class
            .get(i)
            .map_or(0, |&c| self.classes[c as usize].priority)
    }
}
