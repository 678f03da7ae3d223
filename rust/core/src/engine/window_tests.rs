//! The instance's sliding-window aggregates against a brute-force count over every decoder.

use super::instance::Instance;
use super::request::Req;
use crate::cost::StepStats;
use crate::plan::builder::tiny_dense_plan;
use crate::plan::Plan;

/// Decoders joining with random contexts, some leaving, over many rounds: the windowed pairs, the blocks
/// each round takes and the blocks each decoder returns match a per-decoder count.
#[test]
fn windowed_aggregates_match_a_per_decoder_count() {
    let (bs, window) = (16u64, 100u64);
    let mut b = tiny_dense_plan(1);
    b.models[0].kv_window_groups = 3;
    b.models[0].kv_full_groups = 2;
    b.models[0].sliding_window = window as u32;
    b.pools[0].block_size = bs as u32;
    b.pools[0].kv_blocks = u32::MAX;
    b.pools[0].max_batch = 1 << 20;
    let plan = Plan::from_batch(&b.build()).unwrap();
    let mut inst = Instance::new(0, 0, 0, &plan.pools[0], &plan.models[0]);
    let blocks = |ctx: u64| 2 * ctx.div_ceil(bs) + 3 * ctx.min(window).div_ceil(bs);
    let mut reqs: Vec<Req> = Vec::new();
    let mut live: Vec<u32> = Vec::new();
    let mut seed = 12345u64;
    let mut rand = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for _ in 0..3000 {
        for _ in 0..rand(3) {
            let c0 = 1 + rand(250) as u32;
            let mut req = Req::new(c0, 1_000_000, 0.0);
            req.prefill_len = c0;
            reqs.push(req);
            let r = reqs.len() as u32 - 1;
            inst.join_decode(0, r, &mut reqs[r as usize]);
            live.push(r);
        }
        if !live.is_empty() && rand(4) == 0 {
            let k = rand(live.len() as u64) as usize;
            let r = live.swap_remove(k);
            let req = &reqs[r as usize];
            let ctx = req.c0 + (inst.round - req.r0);
            assert_eq!(inst.leave_decode(req), blocks(ctx));
        }
        let ctxs: Vec<u64> = live
            .iter()
            .map(|&r| reqs[r as usize].c0 + (inst.round - reqs[r as usize].r0))
            .collect();
        let need: u64 = ctxs.iter().map(|&c| blocks(c + 1) - blocks(c)).sum();
        assert_eq!(inst.round_blocks(), need);
        let mut s = StepStats::default();
        inst.take_decode_round(&mut s);
        let pairs: u64 = ctxs.iter().map(|&c| (c + 1).min(window)).sum();
        let full: u64 = ctxs.iter().map(|&c| c + 1).sum();
        assert_eq!(s.win_attn_pairs, pairs as f64);
        assert_eq!(s.win_kv_read_tokens, pairs as f64);
        assert_eq!(s.attn_pairs, full as f64);
        assert_eq!(s.seqs, live.len() as f64);
        inst.end_round(0.0, false);
    }
}
