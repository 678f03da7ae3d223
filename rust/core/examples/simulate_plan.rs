//! Simulates a plan file with the Rust core alone — no Python involved — and prints one line per run.
//!
//! ```text
//! infera compile examples/quickstart.infera -o plan.arrow     # or write one with infera_core::builder
//! cargo run -p infera-core --example simulate_plan -- plan.arrow
//! ```
//!
//! Output (one row per run and system): finished requests, rejected requests, mean and p99 time to first
//! token, and throughput in requests and output tokens per second, both over the span from the first arrival
//! to the last departure.
//!
//! ```text
//! $ cargo run -q -p infera-core --example simulate_plan -- plan.arrow    # examples/quickstart.infera
//! run              system            requests  rejected  mean_ttft_ms  p99_ttft_ms      req/s    out_tok/s
//! quickstart       h100x4                2000         0         46.87       216.86      19.05      3986.91
//! ```
//!
//! Pass `--no-iterations` to skip the per-step table (faster and smaller for long runs).

use std::collections::HashMap;
use std::error::Error;
use std::process::ExitCode;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use infera_core::{simulate, Plan, SimOptions};

/// Decodes a dictionary-encoded name column (`run`, `system`) into one string per row.
fn names(batch: &RecordBatch, col: &str) -> Result<Vec<String>, Box<dyn Error>> {
    let arr = batch
        .column_by_name(col)
        .ok_or_else(|| format!("results lack column '{col}'"))?;
    let dict = arr
        .as_dictionary_opt::<UInt32Type>()
        .ok_or_else(|| format!("column '{col}' is not a dictionary"))?;
    let values = dict.values().as_string::<i32>();
    Ok(dict
        .keys()
        .values()
        .iter()
        .map(|&k| values.value(k as usize).to_string())
        .collect())
}

fn f64_col<'a>(
    batch: &'a RecordBatch,
    col: &str,
) -> Result<&'a arrow_array::Float64Array, Box<dyn Error>> {
    let arr = batch
        .column_by_name(col)
        .ok_or_else(|| format!("results lack column '{col}'"))?;
    Ok(arr
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| format!("column '{col}' is not f64"))?)
}

fn u64_col<'a>(
    batch: &'a RecordBatch,
    col: &str,
) -> Result<&'a arrow_array::UInt64Array, Box<dyn Error>> {
    let arr = batch
        .column_by_name(col)
        .ok_or_else(|| format!("results lack column '{col}'"))?;
    Ok(arr
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| format!("column '{col}' is not u64"))?)
}

fn run(path: &str, opts: SimOptions) -> Result<(), Box<dyn Error>> {
    let plan = Plan::read_ipc(path)?;
    let out = simulate(&plan, opts)?;

    // Mean TTFT per (run, system) from the per-request rows (rejected requests have no TTFT).
    let mut ttft: HashMap<(String, String), (f64, u64)> = HashMap::new();
    let req = &out.requests;
    let ttft_s = f64_col(req, "ttft_s")?;
    for ((run, system), k) in names(req, "run")?
        .into_iter()
        .zip(names(req, "system")?)
        .zip(0..)
    {
        if ttft_s.is_valid(k) {
            let e = ttft.entry((run, system)).or_insert((0.0, 0));
            e.0 += ttft_s.value(k);
            e.1 += 1;
        }
    }

    // Counts, span and quantiles come from the per-run statistics.
    let st = &out.stats;
    let (runs, systems) = (names(st, "run")?, names(st, "system")?);
    let requests = u64_col(st, "requests")?;
    let rejected: Vec<u64> = ["rejected_queue_full", "rejected_timeout"]
        .iter()
        .filter_map(|c| u64_col(st, c).ok())
        .fold(vec![0; st.num_rows()], |acc, col| {
            acc.iter().zip(col.values()).map(|(a, b)| a + b).collect()
        });
    let output_tokens = u64_col(st, "output_tokens")?;
    let (first, last) = (
        f64_col(st, "first_arrival_s")?,
        f64_col(st, "last_departure_s")?,
    );
    let p99 = f64_col(st, "ttft_p99_s").ok();

    println!(
        "{:<16} {:<16} {:>9} {:>9} {:>13} {:>12} {:>10} {:>12}",
        "run",
        "system",
        "requests",
        "rejected",
        "mean_ttft_ms",
        "p99_ttft_ms",
        "req/s",
        "out_tok/s"
    );
    for k in 0..st.num_rows() {
        let key = (runs[k].clone(), systems[k].clone());
        let mean_ttft = ttft
            .get(&key)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| s / *n as f64);
        let span = last.value(k) - first.value(k);
        let per_s = |x: u64| {
            if span > 0.0 {
                x as f64 / span
            } else {
                f64::NAN
            }
        };
        let ms = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{:.2}", v * 1e3));
        println!(
            "{:<16} {:<16} {:>9} {:>9} {:>13} {:>12} {:>10.2} {:>12.2}",
            runs[k],
            systems[k],
            requests.value(k),
            rejected[k],
            ms(mean_ttft),
            ms(p99.filter(|a| a.is_valid(k)).map(|a| a.value(k))),
            per_s(requests.value(k)),
            per_s(output_tokens.value(k)),
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut opts = SimOptions::default();
    let mut path = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--no-iterations" => opts.iterations = false,
            "-h" | "--help" => {
                eprintln!("usage: simulate_plan [--no-iterations] PLAN.arrow");
                return ExitCode::SUCCESS;
            }
            _ if path.is_none() => path = Some(arg),
            _ => {
                eprintln!("usage: simulate_plan [--no-iterations] PLAN.arrow");
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = path else {
        eprintln!("usage: simulate_plan [--no-iterations] PLAN.arrow");
        return ExitCode::from(2);
    };
    match run(&path, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("simulate_plan: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
