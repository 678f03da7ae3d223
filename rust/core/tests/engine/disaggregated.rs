//! Disaggregated prefill and decode pools: a request prefills on one pool, its KV cache crosses the link,
//! and it decodes on the other.

use infera_core::builder::{PlanBuilder, PoolRow};

use crate::common::{
    close, decode_stats, f64s, names, pool_cost, prefill_stats, sim, single_request_plan, u32s,
};

/// `single_request_plan` with its pool split into a prefill pool `pre` and a decode pool `dec` (same chip),
/// joined by a 10 GB/s link with 50 µs latency.
fn disaggregated(arrival: f64, prompt: u32, output: u32) -> PlanBuilder {
    let mut b = single_request_plan(arrival, prompt, output);
    b.pools[0].name = "pre".into();
    b.pools[0].role = "prefill".into();
    let dec = PoolRow {
        name: "dec".into(),
        role: "decode".into(),
        step_overhead_s: 1e-4,
        ..b.pools[0].clone()
    };
    b.pool(dec);
    b.link(0, 1, 1e10, 5e-5);
    b
}

#[test]
fn disaggregated_request_prefills_moves_its_kv_cache_then_decodes() {
    let (arrival, prompt, output) = (0.1, 30u32, 5u32);
    let b = disaggregated(arrival, prompt, output);
    let (pre, dec) = (pool_cost(&b, 0), pool_cost(&b, 1));
    let out = sim(&b);
    let r = &out.requests;
    let p = prompt as f64;
    let prefill = pre.step_seconds(&prefill_stats(0.0, p, true));
    // 4e4 B of KV per token × 30 tokens over 10 GB/s, plus the latency.
    let transfer = 4e4 * p / 1e10 + 5e-5;
    let decodes: f64 = (0..output - 1)
        .map(|k| dec.step_seconds(&decode_stats(p + k as f64)))
        .sum();
    close(
        f64s(r, "first_token_s")[0],
        arrival + prefill,
        "first token",
    );
    close(f64s(r, "kv_transfer_s")[0], transfer, "transfer time");
    assert_eq!(f64s(r, "kv_wait_s"), [0.0]);
    close(
        f64s(r, "finish_s")[0],
        arrival + prefill + transfer + decodes,
        "finish",
    );
    assert_eq!(names(r, "prefill_pool"), ["pre"]);
    assert_eq!(names(r, "decode_pool"), ["dec"]);
    assert_eq!(u32s(r, "transfers"), [1]);
    assert_eq!(u32s(r, "prefills"), [1]);
    let it = &out.iterations;
    assert_eq!(names(it, "pool"), ["pre", "dec", "dec", "dec", "dec"]);
    assert_eq!(u32s(it, "prefill_tokens"), [30, 0, 0, 0, 0]);
    assert_eq!(u32s(it, "decode_tokens"), [0, 1, 1, 1, 1]);
}

#[test]
fn disaggregated_single_token_request_never_moves() {
    let b = disaggregated(0.0, 30, 1);
    let out = sim(&b);
    let r = &out.requests;
    assert_eq!(u32s(r, "transfers"), [0]);
    assert_eq!(f64s(r, "finish_s"), f64s(r, "first_token_s"));
    assert_eq!(out.iterations.num_rows(), 1);
}

#[test]
fn a_first_token_streamed_from_the_decode_side_waits_for_the_kv_cache_to_arrive() {
    let (arrival, prompt, output) = (0.1, 30u32, 5u32);
    let mut b = disaggregated(arrival, prompt, output);
    b.pools[0].first_token_at_decode = true;
    let pre = pool_cost(&b, 0);
    let out = sim(&b);
    let r = &out.requests;
    let prefill = pre.step_seconds(&prefill_stats(0.0, prompt as f64, true));
    let transfer = 4e4 * prompt as f64 / 1e10 + 5e-5;
    // The decode instance is idle, so the request joins it as the transfer ends: that is the first token.
    close(
        f64s(r, "first_token_s")[0],
        arrival + prefill + transfer,
        "first token",
    );
    // The rest of the request is unchanged: the same finish, so the decode side's TPOT leaves out the transfer.
    let plain = sim(&disaggregated(arrival, prompt, output));
    assert_eq!(f64s(r, "finish_s"), f64s(&plain.requests, "finish_s"));
    let tpot = f64s(r, "tpot_mean_s")[0];
    assert!(tpot < f64s(&plain.requests, "tpot_mean_s")[0], "{tpot}");
    // A one-token request finishes on the prefill side, where its only token is made.
    let mut one = disaggregated(0.0, 30, 1);
    one.pools[0].first_token_at_decode = true;
    let one = sim(&one);
    assert_eq!(
        f64s(&one.requests, "finish_s"),
        f64s(&one.requests, "first_token_s")
    );
}
