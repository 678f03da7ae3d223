//! The engine's run options: what a simulation keeps besides per-run statistics.

/// What the engine records besides per-run statistics.
#[derive(Debug, Clone, Copy)]
pub struct SimOptions {
    /// Keep one row per request (the `requests` table). Without it only per-run statistics are returned,
    /// so a run of tens of millions of requests needs no per-request output memory.
    pub requests: bool,
    /// Keep one row per engine step (the `iterations` table).
    pub iterations: bool,
    /// Keep each request's token emission times to report its TPOT percentile.
    pub token_stats: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            requests: true,
            iterations: true,
            token_stats: true,
        }
    }
}
