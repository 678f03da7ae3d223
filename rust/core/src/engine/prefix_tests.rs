//! Tests of prefix caching in the engine: a cache of capacity zero changes nothing, a hit never costs more
//! than a miss, duplicate computations are stored once, the KV capacity shared by cached and running blocks
//! is never exceeded (long randomised runs, every step audited), and the prefix columns are validated.

use std::sync::Arc;

use arrow_array::{types::UInt64Type, ArrayRef, ListArray, UInt64Array};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{simulate_run, IterationRows, Outcome, SimOptions};
use crate::error::InferaError;
use crate::plan::builder::{pack, tiny_dense_plan, PlanBuilder};
use crate::plan::Plan;
use crate::test_support::extend;

/// One request of a test stream.
#[derive(Clone)]
struct Rq {
    arrival: f64,
    prompt: u32,
    output: u32,
    ids: Vec<u64>,
    tokens: Vec<u64>,
    out_id: u64,
}

/// The tiny dense plan with `reqs`, one pool of `instances` instances with `kv_blocks` blocks of
/// `block` tokens, and a prefix cache of `cap` blocks (`None`: no prefix columns at all).
fn plan(
    reqs: &[Rq],
    instances: u32,
    kv_blocks: u32,
    block: u32,
    cap: Option<u64>,
    router: &str,
) -> Plan {
    let mut b: PlanBuilder = tiny_dense_plan(0);
    for r in reqs {
        b.request(0, Some(r.arrival), r.prompt, r.output);
    }
    let p = &mut b.pools[0];
    p.instances = instances;
    p.chips = instances;
    p.kv_blocks = kv_blocks;
    p.block_size = block;
    b.runs[0].prefill_router = router.into();
    b.runs[0].decode_router = router.into();
    let tables = b
        .tables()
        .into_iter()
        .map(|(name, sa)| {
            let sa = match (name, cap) {
                ("requests", Some(_)) => extend(&sa, &prefix_columns(reqs)),
                ("pools", Some(c)) => extend(
                    &sa,
                    &[(
                        "prefix_cache_blocks",
                        Arc::new(UInt64Array::from(vec![c])) as ArrayRef,
                    )],
                ),
                _ => sa,
            };
            (name, sa)
        })
        .collect();
    Plan::from_batch(&pack(tables).unwrap()).unwrap()
}

fn lists(v: impl Iterator<Item = Vec<u64>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<UInt64Type, _, _>(
        v.map(|l| Some(l.into_iter().map(Some).collect::<Vec<_>>())),
    ))
}

fn prefix_columns(reqs: &[Rq]) -> Vec<(&'static str, ArrayRef)> {
    vec![
        ("prefix_ids", lists(reqs.iter().map(|r| r.ids.clone()))),
        (
            "prefix_tokens",
            lists(reqs.iter().map(|r| r.tokens.clone())),
        ),
        (
            "output_prefix_id",
            Arc::new(UInt64Array::from(
                reqs.iter().map(|r| r.out_id).collect::<Vec<_>>(),
            )),
        ),
    ]
}

fn run(p: &Plan) -> (Outcome, IterationRows) {
    let mut rows = IterationRows::default();
    let o = simulate_run(p, 0, SimOptions::default(), &mut rows).unwrap();
    (o, rows)
}

/// Multi-turn sessions: a system prompt shared by all, then each turn resends the history (its previous
/// prompt and output) plus a new message; turns of a session follow each other `gap` apart.
fn sessions(seed: u64, n: usize, turns: usize, gap: f64) -> Vec<Rq> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sys: u32 = rng.random_range(1..200);
    let mut out = Vec::new();
    for s in 0..n as u64 {
        let start = rng.random_range(0.0..0.2);
        let (mut ids, mut tokens) = (vec![1u64], vec![sys as u64]);
        let mut prompt = sys;
        for k in 0..turns as u64 {
            let msg: u32 = rng.random_range(1..120);
            let output: u32 = rng.random_range(1..40);
            ids.push(1000 + (s * 100 + k) * 2);
            tokens.push(msg as u64);
            prompt += msg;
            let out_id = 1001 + (s * 100 + k) * 2;
            out.push(Rq {
                arrival: start + k as f64 * gap,
                prompt,
                output,
                ids: ids.clone(),
                tokens: tokens.clone(),
                out_id,
            });
            ids.push(out_id);
            tokens.push(output as u64);
            prompt += output;
        }
    }
    out.sort_by(|a, b| a.arrival.total_cmp(&b.arrival));
    out
}

fn times(o: &Outcome) -> Vec<(u64, u64, u64)> {
    o.reqs
        .iter()
        .map(|r| {
            (
                r.first_sched.to_bits(),
                r.first_token.to_bits(),
                r.finish.to_bits(),
            )
        })
        .collect()
}

#[test]
fn a_cache_of_capacity_zero_reproduces_the_no_cache_run_bit_for_bit() {
    let reqs = sessions(7, 12, 4, 0.05);
    let (without, rows_a) = run(&plan(&reqs, 2, 64, 16, None, "least_tokens"));
    let (zero, rows_b) = run(&plan(&reqs, 2, 64, 16, Some(0), "least_tokens"));
    assert_eq!(times(&without), times(&zero));
    assert_eq!(rows_a.duration_s, rows_b.duration_s);
    assert_eq!(rows_a.kv_blocks_used, rows_b.kv_blocks_used);
    assert!(zero.reqs.iter().all(|r| r.cached_tokens == 0));
    // The same stream with a cache does hit (so the comparison above is not vacuous).
    let (cached, _) = run(&plan(&reqs, 2, 64, 16, Some(64), "least_tokens"));
    assert!(cached.reqs.iter().any(|r| r.cached_tokens > 0));
}

#[test]
fn a_hit_never_costs_more_than_a_miss() {
    for block in [1u32, 4, 16, 64] {
        for prompt in [1u32, 15, 16, 17, 100, 300] {
            // The second request repeats the first's prompt after it has left.
            let r = |arrival| Rq {
                arrival,
                prompt,
                output: 3,
                ids: vec![42],
                tokens: vec![prompt as u64],
                out_id: 0,
            };
            let reqs = [r(0.0), r(1.0)];
            let (miss, _) = run(&plan(&reqs, 1, 1024, block, Some(0), "round_robin"));
            let (hit, _) = run(&plan(&reqs, 1, 1024, block, Some(1024), "round_robin"));
            let ttft = |o: &Outcome| o.reqs[1].first_token - o.reqs[1].arrival;
            let cached = hit.reqs[1].cached_tokens;
            assert_eq!(cached, (prompt as u64 - 1) / block as u64 * block as u64);
            assert!(ttft(&hit) <= ttft(&miss), "block {block} prompt {prompt}");
            if cached > 0 {
                assert!(ttft(&hit) < ttft(&miss), "block {block} prompt {prompt}");
            }
            assert_eq!(hit.reqs[0].first_token, miss.reqs[0].first_token);
        }
    }
}

#[test]
fn concurrent_computations_of_one_prefix_are_cached_once() {
    let r = |arrival| Rq {
        arrival,
        prompt: 64,
        output: 2,
        ids: vec![5, 6],
        tokens: vec![32, 32],
        out_id: 0,
    };
    let (o, _) = run(&plan(
        &[r(0.0), r(0.0)],
        1,
        256,
        16,
        Some(256),
        "round_robin",
    ));
    assert!(
        o.reqs.iter().all(|q| q.cached_tokens == 0),
        "both computed it"
    );
    let kv = &o.insts[0].kv;
    assert_eq!(
        kv.prefix.cached_blocks, 4,
        "64 tokens in blocks of 16, held once"
    );
    assert_eq!(kv.held(), 0);
    kv.check_accounting(0).unwrap();
}

#[test]
fn the_router_sends_a_turn_where_its_history_is_cached() {
    let reqs = sessions(3, 8, 5, 0.3);
    let (o, _) = run(&plan(&reqs, 4, 512, 16, Some(512), "prefix_aware"));
    let (rr, _) = run(&plan(&reqs, 4, 512, 16, Some(512), "round_robin"));
    let saved = |o: &Outcome| o.reqs.iter().map(|r| r.cached_tokens).sum::<u64>();
    assert!(saved(&o) > saved(&rr), "{} vs {}", saved(&o), saved(&rr));
}

#[test]
fn cached_and_running_blocks_never_exceed_the_kv_capacity() {
    // Small caches under heavy multi-turn traffic force evictions, preemptions and duplicate
    // computations; `check_accounting` (with the cache's full audit under test) runs at every step.
    for seed in 0..40u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let block = [1u32, 4, 16][rng.random_range(0..3)];
        let reqs = sessions(seed, rng.random_range(1..20), rng.random_range(1..6), 0.01);
        let longest = reqs.iter().map(|r| r.prompt + r.output).max().unwrap();
        let kv = longest.div_ceil(block) + rng.random_range(1..200);
        let cap = rng.random_range(0..=kv as u64 + 10);
        let router = ["round_robin", "least_tokens", "prefix_aware"][rng.random_range(0..3)];
        let p = plan(&reqs, rng.random_range(1..4), kv, block, Some(cap), router);
        let (o, rows) = run(&p);
        for inst in &o.insts {
            inst.kv.check_accounting(0).unwrap();
            assert_eq!(
                inst.kv.held(),
                0,
                "seed {seed}: a request kept blocks after leaving"
            );
            assert!(inst.kv.prefix.cached_blocks <= cap.min(kv as u64));
        }
        assert!(rows.kv_blocks_used.iter().all(|&u| u <= kv), "seed {seed}");
        assert!(o.reqs.iter().all(|r| r.finish.is_finite()), "seed {seed}");
    }
}

#[test]
fn prefix_columns_are_validated_with_table_column_and_row() {
    let mut reqs = sessions(1, 2, 2, 0.1);
    let check = |reqs: &[Rq], col: &str, row: usize| {
        let mut b = tiny_dense_plan(0);
        for r in reqs {
            b.request(0, Some(r.arrival), r.prompt, r.output);
        }
        let tables = b
            .tables()
            .into_iter()
            .map(|(n, sa)| {
                if n == "requests" {
                    (n, extend(&sa, &prefix_columns(reqs)))
                } else {
                    (n, sa)
                }
            })
            .collect();
        match Plan::from_batch(&pack(tables).unwrap()) {
            Err(InferaError::Plan(e)) => {
                assert_eq!(
                    (e.table.as_deref(), e.column.as_deref(), e.row),
                    (Some("requests"), Some(col), Some(row)),
                    "{e}"
                );
            }
            other => panic!("expected a plan error, got {other:?}"),
        }
    };
    reqs[1].tokens.pop();
    check(&reqs, "prefix_tokens", 1);
    let mut reqs = sessions(1, 2, 2, 0.1);
    reqs[2].tokens[0] += reqs[2].prompt as u64;
    check(&reqs, "prefix_tokens", 2);
    let mut reqs = sessions(1, 2, 2, 0.1);
    reqs[0].ids[0] = 0;
    check(&reqs, "prefix_ids", 0);
}

#[test]
fn an_id_reused_for_other_lengths_or_parents_is_never_shared() {
    // Found replaying a Mooncake-style trace whose block hashes repeat across requests of other lengths:
    // a 119-token prompt matched a cached 351-token node, its blocks to allocate wrapped below zero and the
    // request waited forever. An id matches only the same parent and the same length.
    let r = |arrival, prompt: u32, ids: Vec<u64>, tokens: Vec<u64>| Rq {
        arrival,
        prompt,
        output: 4,
        ids,
        tokens,
        out_id: 0,
    };
    let reqs = [
        r(0.0, 351, vec![7], vec![351]),
        r(1.0, 119, vec![7], vec![119]),
        r(2.0, 400, vec![9, 7], vec![200, 200]),
        r(3.0, 351, vec![7], vec![351]),
    ];
    let (o, _) = run(&plan(&reqs, 1, 256, 16, Some(256), "round_robin"));
    assert!(o.reqs.iter().all(|q| q.finish.is_finite()));
    assert_eq!(o.reqs[1].cached_tokens, 0);
    assert_eq!(o.reqs[2].cached_tokens, 0);
    assert_eq!(o.reqs[3].cached_tokens, 336);
}
