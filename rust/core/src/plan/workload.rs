//! Traffic: a workload's arrival process and its requests.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrivalKind {
    /// Arrival times come from the requests table (Poisson, burst, trace).
    Open,
    /// A fixed number of users; each sends its next request when its last one finishes.
    Closed,
}

impl ArrivalKind {
    pub const NAMES: [&'static str; 2] = ["open", "closed"];
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub kind: ArrivalKind,
    pub users: u64,
    pub think_time_s: f64,
    /// No request is issued at or after this time (infinite when the traffic is bounded by count).
    pub duration_s: f64,
    pub arrival_s: Vec<f64>,
    pub prompt_tokens: Vec<u32>,
    pub output_tokens: Vec<u32>,
}
