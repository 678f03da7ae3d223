//! Running one case: decoding it, and simulating it (on another thread, with a time limit) when it is
//! small, with panics caught and reported.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use arrow_array::RecordBatch;

use infera_core::{simulate_batch, Plan, SimOptions};

use super::base::{base_builder, tables_of, Base};
use super::draft::Draft;
use super::mutations::Mutation;
use super::tweaks::{tweak, PoolExtras, Tweak};

/// A simulation of a small plan that takes longer than this is reported as a hang.
const SIM_TIME_LIMIT: Duration = Duration::from_secs(20);

/// Whether a decoded plan is small enough to simulate in a test (few instances, few tokens).
fn small(plan: &Plan) -> bool {
    let instances: u64 = plan.pools.iter().map(|p| p.instances).sum();
    let tokens: u64 = plan
        .workloads
        .iter()
        .flat_map(|w| {
            w.prompt_tokens
                .iter()
                .zip(&w.output_tokens)
                .map(|(p, o)| *p as u64 + *o as u64)
        })
        .sum();
    let requests: usize = plan.workloads.iter().map(|w| w.prompt_tokens.len()).sum();
    instances <= 64
        && plan.pools.iter().all(|p| p.block_size <= 1 << 16)
        && requests <= 200
        && tokens <= 100_000
        && plan.runs.len() <= 8
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic)".into())
}

#[derive(Debug)]
#[allow(dead_code)] // the messages are read through Debug, in failure reports
pub enum Outcome {
    Rejected(String),
    Simulated,
    SimulationFailed(String),
    TooLargeToSimulate,
}

/// Decodes the batch and, if it decodes to a small plan, simulates it (on another thread, with a time
/// limit). A panic or a hang is an `Err` describing it.
pub fn run_case(batch: &RecordBatch) -> Result<Outcome, String> {
    let decoded = catch_unwind(AssertUnwindSafe(|| Plan::from_batch(batch)))
        .map_err(|p| format!("Plan::from_batch panicked: {}", panic_text(p)))?;
    let plan = match decoded {
        Err(e) => return Ok(Outcome::Rejected(e.to_string())),
        Ok(plan) => plan,
    };
    if !small(&plan) {
        return Ok(Outcome::TooLargeToSimulate);
    }
    let (tx, rx) = mpsc::channel();
    let batch = batch.clone();
    std::thread::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(|| {
            simulate_batch(&batch, SimOptions::default())
        }));
        let _ = tx.send(
            r.map(|r| r.map(|_| ()).map_err(|e| e.to_string()))
                .map_err(panic_text),
        );
    });
    match rx.recv_timeout(SIM_TIME_LIMIT) {
        Err(_) => Err(format!(
            "simulate_batch did not finish within {SIM_TIME_LIMIT:?}"
        )),
        Ok(Err(p)) => Err(format!("simulate_batch panicked: {p}")),
        Ok(Ok(Ok(()))) => Ok(Outcome::Simulated),
        Ok(Ok(Err(e))) => {
            if std::env::var_os("INFERA_FUZZ_VERBOSE").is_some() {
                eprintln!("decoded, then simulation failed: {e}");
            }
            Ok(Outcome::SimulationFailed(e))
        }
    }
}

pub fn silence_panics() {
    // Panics are caught and reported with the case; the default hook would print each one as well.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::env::var_os("INFERA_FUZZ_VERBOSE").is_some() {
                default(info);
            }
        }));
    });
}

/// The batch of one case: `base`, its rows changed by `tweaks`, then malformed by `mutations`.
pub fn case_batch(base: &Base, tweaks: &[Tweak], mutations: &[Mutation]) -> Option<RecordBatch> {
    let mut b = base_builder(base);
    let mut extras = PoolExtras::default();
    for t in tweaks {
        tweak(&mut b, &mut extras, t);
    }
    let mut draft = Draft::new(tables_of(base, &b, &extras));
    for m in mutations {
        draft.apply(m);
    }
    draft.batch()
}
