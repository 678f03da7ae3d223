//! Pricing on multi-engine chips with memory tiers, per-operation energy and calibration profiles. Plans
//! come from the builder with the optional hardware columns and tables added, so they are decoded the way
//! a compiled plan is; expected times and energies are worked out by hand.

use super::{Curve, StepCost, StepStats};
use crate::plan::builder::OperatorRow;
use crate::plan::Plan;
use crate::test_support::{
    builder, close, decode, f64s, op, optical_extra, optical_ops, strs, table, u32s, Extra,
    OPTICAL_CHIP,
};

fn cost_of(p: &Plan) -> StepCost {
    StepCost::new(&p.models[0], &p.chips[0], &p.pools[0])
}

#[test]
fn optical_matmul_pays_operand_conversion_time_and_energy() {
    let p = decode(
        &builder(&OPTICAL_CHIP, optical_ops()),
        &optical_extra("optical"),
    )
    .unwrap();
    let c = cost_of(&p);
    let s = StepStats {
        tokens: 10.0,
        sampled: 1.0,
        attn_pairs: 5e4,
        kv_read_tokens: 3e3,
        ..Default::default()
    };
    // mm on the optical engine: 2 × 1e9 × 10 = 2e10 FLOP at 4e14 × 0.5 → 100 µs; 2 × (1e6 + 1e3 × 10)
    // = 2.02e6 B from HBM at 1e12 → 2.02 µs; the same bytes through 1e10 B/s converters → 202 µs: wins.
    let mm = (2e10 / 2e14_f64).max(2.02e6 / 1e12).max(2.02e6 / 1e10);
    close(mm, 2.02e-4);
    // attention on the tensor engine (no converters): 2 × 100 × 5e4 = 1e7 FLOP → 0.1 µs; 2 × 50 × 3e3
    // = 3e5 B → 0.3 µs.
    let at = (1e7 / 1e14_f64).max(3e5 / 1e12);
    let d = c.step_seconds(&s);
    close(d, 1e-4 + mm + at);
    // Energy: static 50 W × d, plus mm 2e10 FLOP × 0.1 pJ + 2.02e6 B × (5 pJ HBM + 2 pJ conversion), plus
    // attention 1e7 FLOP × 0.5 pJ + 3e5 B × 5 pJ.
    assert!(c.energy_model);
    let dynamic = 2e10 * 1e-13 + 2.02e6 * 5e-12 + 2.02e6 * 2e-12 + 1e7 * 5e-13 + 3e5 * 5e-12;
    close(c.step_energy_j(&s, d), 50.0 * d + dynamic);
    close(c.stage_joules(&s), dynamic);
}

#[test]
fn weights_and_kv_are_read_at_the_bandwidth_and_energy_of_their_tiers() {
    let ops = vec![
        OperatorRow {
            flops_per_token: 1e3,
            weight_bytes: 1e8,
            bytes_per_token: 1e3,
            ..op("mm", "bf16", 1.0)
        },
        OperatorRow {
            bytes_per_token: 10.0,
            bytes_per_kv_token: 1e3,
            ..op("attention", "bf16", 1.0)
        },
    ];
    let b = builder(&[("tensor", "bf16", 1e14, 1.0)], ops);
    let tiers = |w: u32, kv: u32| Extra {
        pools: vec![("weights_memory", u32s(&[w])), ("kv_memory", u32s(&[kv]))],
        memories: Some(table(vec![
            ("chip", u32s(&[0, 0])),
            ("name", strs(&["sram", "hbm"])),
            ("capacity_bytes", f64s(&[1e9, 80e9])),
            ("bandwidth", f64s(&[1e14, 1e12])),
            ("efficiency", f64s(&[1.0, 0.5])),
            ("energy_per_byte", f64s(&[1e-13, 4e-12])),
        ])),
        ..Default::default()
    };
    let s = StepStats {
        tokens: 1.0,
        sampled: 1.0,
        attn_pairs: 1e5,
        kv_read_tokens: 1e5,
        ..Default::default()
    };
    // Weights (and activations) in SRAM at 1e14 B/s, KV in HBM at 1e12 × 0.5.
    let c = cost_of(&decode(&b, &tiers(0, 1)).unwrap());
    let mm = (1e3 / 1e14_f64).max((1e8 + 1e3) / 1e14);
    let at = 10.0 / 1e14 + 1e8 / 5e11;
    close(c.step_seconds(&s), 1e-4 + mm + at);
    let dynamic = (1e8 + 1e3) * 1e-13 + 10.0 * 1e-13 + 1e8 * 4e-12;
    let d = c.step_seconds(&s);
    close(c.step_energy_j(&s, d), 50.0 * d + dynamic);
    // Everything in HBM: every byte at 5e11 B/s and 4 pJ.
    let c = cost_of(&decode(&b, &tiers(1, 1)).unwrap());
    close(
        c.step_seconds(&s),
        1e-4 + (1e8 + 1e3) / 5e11 + (10.0 + 1e8) / 5e11,
    );
    // Without placement columns the chips row's memory (1 TB/s) is used and no per-byte energy is drawn:
    // the power model (busy power 0 W here) applies.
    let c = cost_of(&decode(&b, &Extra::default()).unwrap());
    close(
        c.step_seconds(&s),
        1e-4 + (1e8 + 1e3) / 1e12 + (10.0 + 1e8) / 1e12,
    );
    assert!(!c.energy_model);
    assert_eq!(c.step_energy_j(&s, 1.0), 0.0);
}

#[test]
fn profile_overrides_the_roofline_exactly_at_measured_points_and_interpolates_between() {
    let mm = OperatorRow {
        flops_per_token: 1e9,
        weight_bytes: 1e6,
        bytes_per_token: 1e3,
        ..op("mm", "bf16", 2.0)
    };
    let b = builder(&[("tensor", "bf16", 1e14, 1.0)], vec![mm]);
    let profile = |tp: u32| Extra {
        profiles: Some(table(vec![
            ("chip", u32s(&[0, 0, 0, 0])),
            ("model", strs(&["", "", "", "other"])),
            ("operator", strs(&["mm", "mm", "mm", "mm"])),
            ("tp", u32s(&[tp, tp, tp, tp])),
            ("stat", strs(&["tokens", "tokens", "tokens", "tokens"])),
            ("x", f64s(&[64.0, 16.0, 256.0, 16.0])),
            ("seconds", f64s(&[3e-4, 1e-4, 7e-4, 9.0])),
        ])),
        ..Default::default()
    };
    let c = cost_of(&decode(&b, &profile(1)).unwrap());
    let at = |t: f64| {
        c.step_seconds(&StepStats {
            tokens: t,
            ..Default::default()
        })
    };
    // Measured points: the overhead plus count (2) × the measured time, exactly (the row for model
    // 'other' is ignored).
    assert_eq!(at(16.0), 1e-4 + 2.0 * 1e-4);
    assert_eq!(at(64.0), 1e-4 + 2.0 * 3e-4);
    assert_eq!(at(256.0), 1e-4 + 2.0 * 7e-4);
    // Between: linear in tokens.
    close(at(40.0), 1e-4 + 2.0 * 2e-4);
    close(at(160.0), 1e-4 + 2.0 * 5e-4);
    // Outside the measured range: the roofline, max(2e9 t / 1e14, 2 (1e6 + 1e3 t) / 1e12).
    let roof = |t: f64| 1e-4 + (2e9 * t / 1e14_f64).max(2.0 * (1e6 + 1e3 * t) / 1e12);
    close(at(8.0), roof(8.0));
    close(at(1000.0), roof(1000.0));
    // Measurements at another tensor-parallel degree do not apply.
    let c = cost_of(&decode(&b, &profile(2)).unwrap());
    close(
        c.step_seconds(&StepStats {
            tokens: 16.0,
            ..Default::default()
        }),
        roof(16.0),
    );
    // A chip's kernel overhead is part of what a profile measured: measured points stay exact, and the
    // roofline outside the range pays it per occurrence (2 here).
    let with_kernel = Extra {
        chips: vec![("kernel_overhead_s", f64s(&[5e-6]))],
        ..profile(1)
    };
    let c = cost_of(&decode(&b, &with_kernel).unwrap());
    let at = |t: f64| {
        c.step_seconds(&StepStats {
            tokens: t,
            ..Default::default()
        })
    };
    assert_eq!(at(64.0), 1e-4 + 2.0 * 3e-4);
    close(at(1000.0), roof(1000.0) + 2.0 * 5e-6);
}

fn curve(xs: &[f64], ys: &[f64]) -> Curve {
    Curve {
        stat: 0,
        xs: xs.to_vec(),
        ys: ys.to_vec(),
    }
}

fn at(c: &Curve, tokens: f64) -> Option<f64> {
    c.at(&StepStats {
        tokens,
        ..Default::default()
    })
}

#[test]
fn curve_is_exact_at_measured_points_linear_between_and_absent_outside() {
    let c = curve(&[16.0, 64.0, 256.0], &[1.0e-4, 1.7e-4, 5.3e-4]);
    assert_eq!(at(&c, 16.0), Some(1.0e-4));
    assert_eq!(at(&c, 64.0), Some(1.7e-4));
    assert_eq!(at(&c, 256.0), Some(5.3e-4));
    let mid = at(&c, 40.0).unwrap();
    assert!((mid - (1.0e-4 + 0.7e-4 * 0.5)).abs() < 1e-18, "{mid}");
    let hi = at(&c, 160.0).unwrap();
    assert!((hi - (1.7e-4 + 3.6e-4 * 0.5)).abs() < 1e-18, "{hi}");
    assert_eq!(at(&c, 15.0), None);
    assert_eq!(at(&c, 257.0), None);
    let one = curve(&[8.0], &[2e-5]);
    assert_eq!(at(&one, 8.0), Some(2e-5));
    assert_eq!(at(&one, 9.0), None);
}
