//! One request (or two identical ones): its times are sums of hand-described step prices.

use infera_core::cost::StepStats;

use crate::common::{
    close, decode_stats, f64s, names, opt_f64s, pool_cost, prefill_stats, sim, single_request_plan,
    u32s, u64s,
};

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

#[test]
fn single_request_ttft_is_the_prefill_price_and_decodes_follow_back_to_back() {
    let (arrival, prompt, output) = (0.25, 30u32, 6u32);
    let b = single_request_plan(arrival, prompt, output);
    let cost = pool_cost(&b, 0);
    let out = sim(&b);
    let r = &out.requests;
    assert_eq!(r.num_rows(), 1);

    let p = prompt as f64;
    let prefill = cost.step_seconds(&StepStats {
        tokens: p,
        sampled: 1.0,
        attn_pairs: p * (p + 1.0) / 2.0,
        kv_read_tokens: p,
        ..Default::default()
    });
    let decodes: Vec<f64> = (0..output - 1)
        .map(|k| cost.step_seconds(&decode_stats(p + k as f64)))
        .collect();
    assert!(
        decodes.windows(2).all(|w| w[1] > w[0]),
        "decode steps grow with the context"
    );

    assert_eq!(f64s(r, "arrival_s"), [arrival]);
    assert_eq!(f64s(r, "first_scheduled_s"), [arrival]);
    close(
        f64s(r, "first_token_s")[0],
        arrival + prefill,
        "first token",
    );
    close(f64s(r, "ttft_s")[0], prefill, "TTFT");
    close(f64s(r, "queue_s")[0], 0.0, "queue");
    let first = f64s(r, "first_token_s")[0];
    let decode_sum: f64 = decodes.iter().sum();
    close(
        f64s(r, "finish_s")[0] - first,
        decode_sum,
        "finish - first token",
    );
    close(f64s(r, "e2e_s")[0], prefill + decode_sum, "e2e");
    close(
        opt_f64s(r, "tpot_mean_s")[0].unwrap(),
        decode_sum / (output - 1) as f64,
        "TPOT mean",
    );
    // TPOT p99 over the five gaps (numpy's linear interpolation: 0.99 × 4 = 3.96 between the 4th and 5th).
    let p99 = decodes[3] + (decodes[4] - decodes[3]) * 0.96;
    let got = opt_f64s(r, "tpot_p99_s")[0].unwrap();
    assert!(
        (got - p99).abs() <= 1e-12,
        "TPOT p99: expected {p99:e}, got {got:e}"
    );
    assert_eq!(u32s(r, "prompt_tokens"), [prompt]);
    assert_eq!(u32s(r, "output_tokens"), [output]);
    assert_eq!(u32s(r, "preemptions"), [0]);
    assert_eq!(names(r, "run"), ["r"]);
    assert_eq!(names(r, "prefill_pool"), ["p"]);
    assert_eq!(names(r, "decode_pool"), ["p"]);
    assert_eq!(u32s(r, "prefills"), [1]);
    assert_eq!(u32s(r, "transfers"), [0]);

    // The iterations table shows the same steps.
    let it = &out.iterations;
    assert_eq!(it.num_rows(), output as usize);
    let dur = f64s(it, "duration_s");
    close(dur[0], prefill, "prefill step");
    for k in 0..decodes.len() {
        close(dur[k + 1], decodes[k], "decode step");
    }
    assert_eq!(u32s(it, "prefill_tokens"), [30, 0, 0, 0, 0, 0]);
    assert_eq!(u32s(it, "decode_tokens"), [0, 1, 1, 1, 1, 1]);
    assert_eq!(u32s(it, "batch_size"), [1, 1, 1, 1, 1, 1]);
    // 16-token blocks: 30 prompt tokens take 2; the decode with context 32 writes the 33rd token and a 3rd block.
    let expect_blocks: Vec<u32> = std::iter::once(ceil_div(30, 16))
        .chain((0..output as u64 - 1).map(|k| ceil_div(30 + k + 1, 16)))
        .map(|x| x as u32)
        .collect();
    assert_eq!(expect_blocks, [2, 2, 2, 3, 3, 3]);
    assert_eq!(u32s(it, "kv_blocks_used"), expect_blocks);
    let start = f64s(it, "start_s");
    assert_eq!(start[0], arrival);
    close(start[1], arrival + prefill, "first decode start");
    // The chip has no busy power: no energy.
    assert!(f64s(it, "energy_j").iter().all(|&e| e == 0.0));

    let ins = &out.instances;
    assert_eq!(u64s(ins, "kv_blocks"), [64]);
    assert_eq!(u64s(ins, "steps"), [output as u64]);
    close(f64s(ins, "busy_s")[0], prefill + decode_sum, "busy time");
}

#[test]
fn single_token_request_finishes_at_its_first_token() {
    let b = single_request_plan(1.0, 50, 1);
    let cost = pool_cost(&b, 0);
    let out = sim(&b);
    let r = &out.requests;
    let prefill = cost.step_seconds(&prefill_stats(0.0, 50.0, true));
    close(f64s(r, "first_token_s")[0], 1.0 + prefill, "first token");
    assert_eq!(f64s(r, "finish_s"), f64s(r, "first_token_s"));
    assert_eq!(opt_f64s(r, "tpot_mean_s"), [None]);
    assert_eq!(opt_f64s(r, "tpot_p99_s"), [None]);
    assert_eq!(out.iterations.num_rows(), 1);
}

#[test]
fn chunked_prefill_splits_the_prompt_at_the_token_budget() {
    let (prompt, output) = (100u32, 3u32);
    let mut b = single_request_plan(0.0, prompt, output);
    b.pools[0].max_batched_tokens = 32;
    let cost = pool_cost(&b, 0);
    let out = sim(&b);
    // Chunks of 32, 32, 32 and 4 tokens; only the last samples a token.
    let chunks = [
        (0.0, 32.0, false),
        (32.0, 32.0, false),
        (64.0, 32.0, false),
        (96.0, 4.0, true),
    ];
    let prices: Vec<f64> = chunks
        .iter()
        .map(|&(p, c, last)| cost.step_seconds(&prefill_stats(p, c, last)))
        .collect();
    let ttft: f64 = prices.iter().sum();
    let r = &out.requests;
    close(f64s(r, "ttft_s")[0], ttft, "TTFT of a chunked prefill");
    let decodes = cost.step_seconds(&decode_stats(100.0)) + cost.step_seconds(&decode_stats(101.0));
    close(
        f64s(r, "finish_s")[0] - f64s(r, "first_token_s")[0],
        decodes,
        "decode time",
    );
    let it = &out.iterations;
    assert_eq!(u32s(it, "prefill_tokens"), [32, 32, 32, 4, 0, 0]);
    assert_eq!(u32s(it, "decode_tokens"), [0, 0, 0, 0, 1, 1]);
    // The whole prompt's blocks are reserved at admission.
    assert_eq!(u32s(it, "kv_blocks_used"), [7, 7, 7, 7, 7, 7]);
    for (k, p) in prices.iter().enumerate() {
        close(f64s(it, "duration_s")[k], *p, "chunk price");
    }
}

#[test]
fn energy_is_busy_power_of_all_chips_times_step_time() {
    let mut b = single_request_plan(0.0, 20, 4);
    b.chips[0].power_busy_w = 300.0;
    b.pools[0].tp = 2;
    b.pools[0].chips = 2;
    let out = sim(&b);
    let it = &out.iterations;
    let (dur, energy) = (f64s(it, "duration_s"), f64s(it, "energy_j"));
    assert_eq!(dur.len(), 4);
    for k in 0..dur.len() {
        close(energy[k], 600.0 * dur[k], "step energy");
    }
}

#[test]
fn two_simultaneous_requests_share_their_steps() {
    // Two identical requests arriving together: one prefill step for both, then shared decode steps.
    let mut b = single_request_plan(0.5, 16, 4);
    b.request(0, Some(0.5), 16, 4);
    let cost = pool_cost(&b, 0);
    let out = sim(&b);
    let p = 16.0;
    let prefill = cost.step_seconds(&StepStats {
        tokens: 2.0 * p,
        sampled: 2.0,
        attn_pairs: 2.0 * p * (p + 1.0) / 2.0,
        kv_read_tokens: 2.0 * p,
        ..Default::default()
    });
    let decode = |c: f64| {
        cost.step_seconds(&StepStats {
            tokens: 2.0,
            sampled: 2.0,
            attn_pairs: 2.0 * (c + 1.0),
            kv_read_tokens: 2.0 * (c + 1.0),
            ..Default::default()
        })
    };
    let r = &out.requests;
    for k in 0..2 {
        close(f64s(r, "first_token_s")[k], 0.5 + prefill, "shared prefill");
        close(
            f64s(r, "finish_s")[k],
            0.5 + prefill + decode(16.0) + decode(17.0) + decode(18.0),
            "shared decode",
        );
    }
    assert_eq!(u32s(&out.iterations, "batch_size"), [2, 2, 2, 2]);
    assert_eq!(u32s(&out.iterations, "prefill_tokens"), [32, 0, 0, 0]);
    assert_eq!(u32s(&out.iterations, "decode_tokens"), [0, 2, 2, 2]);
}
