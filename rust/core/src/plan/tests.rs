//! Decoding and validation beyond the column reader: engine routing and precision fallbacks of a chip,
//! malformed hardware, unknown names, and the location a plan error names.

use crate::error::{InferaError, PlanError};
use crate::plan::builder::{pack, tiny_dense_plan, OperatorRow, PlanBuilder};
use crate::plan::{fallbacks, Chip, Metric, Operator, Plan, Role, PRECISIONS};
use crate::test_support::{
    builder, decode, f64s, op, optical_extra, optical_ops, strs, table, u32s, Extra, OPTICAL_CHIP,
};

#[test]
fn routes_pick_the_engine_by_name_or_kind_and_never_narrow_the_precision() {
    let ops = vec![
        op("mm", "bf16", 1.0),
        OperatorRow {
            flops_per_attn_pair: 1.0,
            ..op("attention", "bf16", 1.0)
        },
    ];
    let p = decode(
        &builder(&OPTICAL_CHIP, ops.clone()),
        &optical_extra("optical,tensor"),
    )
    .unwrap();
    let chip = &p.chips[0];
    let (mm, attn) = (&p.models[0].operators[0], &p.models[0].operators[1]);
    assert_eq!(chip.matmul_route, vec!["optical", "tensor"]);
    // A bf16 matmul cannot run on the int8-only optical engine: it falls back to the tensor engine.
    assert_eq!(chip.engine_for(mm).map(|e| e.name.as_str()), Some("tensor"));
    assert_eq!(
        chip.engine_for(attn).map(|e| e.name.as_str()),
        Some("tensor")
    );
    let int8 = Operator {
        dtype: "int8".into(),
        ..mm.clone()
    };
    assert_eq!(
        chip.engine_for(&int8).map(|e| e.name.as_str()),
        Some("optical")
    );
    // With matmuls routed to the optical engine alone, the bf16 matmul has no engine: the plan is rejected.
    let err = decode(&builder(&OPTICAL_CHIP, ops), &optical_extra("optical"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no 'optical' engine for operator 'mm' (bf16)"),
        "{err}"
    );
}

#[test]
fn malformed_hardware_is_rejected_when_the_plan_is_decoded() {
    let b = builder(&OPTICAL_CHIP, optical_ops());
    let err = |x: Extra| decode(&b, &x).unwrap_err().to_string();
    let e = err(Extra {
        chips: vec![("matmul_engine", strs(&["photonic"]))],
        ..optical_extra("optical")
    });
    assert!(e.contains("matmul_engine names 'photonic'"), "{e}");
    let e = err(Extra {
        chips: vec![("kernel_overhead_s", f64s(&[-1e-6]))],
        ..optical_extra("optical")
    });
    assert!(e.contains("kernel_overhead_s"), "{e}");
    let mut x = optical_extra("optical");
    x.engines[2] = ("conversion_bw", f64s(&[0.0, 0.0, 0.0]));
    assert!(err(x).contains("needs a conversion rate"));
    let mut x = optical_extra("optical");
    x.pools = vec![("weights_memory", u32s(&[3]))];
    assert!(err(x).contains("refers to memories row 3"));
    let mut x = optical_extra("optical");
    x.profiles = Some(table(vec![
        ("chip", u32s(&[0, 0])),
        ("model", strs(&["", ""])),
        ("operator", strs(&["mm", "mm"])),
        ("tp", u32s(&[1, 1])),
        ("stat", strs(&["tokens", "sampled"])),
        ("x", f64s(&[1.0, 2.0])),
        ("seconds", f64s(&[1e-4, 2e-4])),
    ]));
    assert!(err(x).contains("measured against both"));
}

const BF16_TENSOR: (&str, &str, f64, f64) = ("tensor", "bf16", 1e15, 0.5);
const FP8_TENSOR: (&str, &str, f64, f64) = ("tensor", "fp8", 2e15, 0.5);

/// The decoded chip with `engines` (its model needs none of them: one all-reduce).
fn chip(engines: &[(&str, &str, f64, f64)]) -> Chip {
    let ar = OperatorRow {
        engine: "collective".into(),
        ..op("ar", "bf16", 1.0)
    };
    Plan::from_batch(&builder(engines, vec![ar]).build())
        .expect("test plan is valid")
        .chips
        .remove(0)
}

#[test]
fn find_engine_prefers_exact_precision_then_falls_back_wider() {
    let both = chip(&[BF16_TENSOR, FP8_TENSOR, ("vector", "fp32", 1e12, 1.0)]);
    assert_eq!(
        both.find_engine("tensor", "fp8").map(|e| e.flops),
        Some(2e15)
    );
    assert_eq!(
        both.find_engine("tensor", "bf16").map(|e| e.flops),
        Some(1e15)
    );
    assert_eq!(
        both.find_engine("tensor", "int8").map(|e| e.dtype.as_str()),
        Some("fp8")
    );
    assert_eq!(
        both.find_engine("tensor", "int4").map(|e| e.dtype.as_str()),
        Some("fp8")
    );
    assert_eq!(
        both.find_engine("tensor", "fp16").map(|e| e.dtype.as_str()),
        Some("bf16")
    );
    assert_eq!(
        both.find_engine("vector", "bf16").map(|e| e.dtype.as_str()),
        Some("fp32")
    );
    assert!(
        both.find_engine("tensor", "fp32").is_none(),
        "never falls back to a narrower precision"
    );
    assert!(both.find_engine("tensor", "fp4").is_none());
    assert!(both.find_engine("collective", "bf16").is_none());

    let bf16_only = chip(&[BF16_TENSOR]);
    assert_eq!(
        bf16_only
            .find_engine("tensor", "fp8")
            .map(|e| e.dtype.as_str()),
        Some("bf16")
    );
    assert_eq!(
        bf16_only
            .find_engine("tensor", "int4")
            .map(|e| e.dtype.as_str()),
        Some("bf16")
    );
    assert!(bf16_only.find_engine("vector", "bf16").is_none());
}

#[test]
fn precision_fallbacks_start_at_the_precision_and_end_at_fp32() {
    for d in PRECISIONS {
        let f = fallbacks(d);
        assert_eq!(f.first(), Some(&d));
        assert_eq!(f.last(), Some(&"fp32"));
        assert!(f.iter().all(|x| PRECISIONS.contains(x)), "{d}: {f:?}");
    }
    assert!(fallbacks("fp4").is_empty());
}

#[test]
fn fp4_formats_fall_back_to_fp8_then_wider_never_to_each_other_or_integers() {
    let rank = |d: &str| PRECISIONS.iter().position(|p| *p == d).unwrap();
    for d in ["nvfp4", "mxfp4"] {
        let f = fallbacks(d);
        assert_eq!(f[..2], [d, "fp8"], "{d}: {f:?}");
        assert!(!f.contains(&"int8") && !f.contains(&"int4"), "{d}: {f:?}");
        assert_eq!(
            f.iter().filter(|x| x.ends_with("fp4")).count(),
            1,
            "{d}: {f:?}"
        );
        assert!(
            f[1..].iter().all(|w| rank(w) < rank(d)),
            "wider only: {d}: {f:?}"
        );
    }
}

#[test]
fn precisions_are_widest_first_by_storage_with_block_scales() {
    // Bits per element, block scales included (nvfp4: 4 + 8/16; mxfp4: 4 + 8/32).
    let bits = |d: &str| match d {
        "fp32" => 32.0,
        "bf16" | "fp16" => 16.0,
        "fp8" | "int8" => 8.0,
        "nvfp4" => 4.5,
        "mxfp4" => 4.25,
        "int4" => 4.0,
        _ => panic!("unlisted precision {d}"),
    };
    assert!(
        PRECISIONS.windows(2).all(|w| bits(w[0]) >= bits(w[1])),
        "{PRECISIONS:?}"
    );
}

#[test]
fn an_nvfp4_matmul_runs_on_the_fp4_engine_else_at_fp8() {
    // A Blackwell-like chip lists both 4-bit formats; a Hopper-like one stops at fp8.
    let blackwell = chip(&[
        BF16_TENSOR,
        FP8_TENSOR,
        ("tensor", "nvfp4", 4e15, 0.5),
        ("tensor", "mxfp4", 4e15, 0.5),
    ]);
    let hopper = chip(&[BF16_TENSOR, FP8_TENSOR]);
    for d in ["nvfp4", "mxfp4"] {
        let e = blackwell.find_engine("tensor", d).unwrap();
        assert_eq!((e.dtype.as_str(), e.flops), (d, 4e15));
        let e = hopper.find_engine("tensor", d).unwrap();
        assert_eq!((e.dtype.as_str(), e.flops), ("fp8", 2e15));
    }
    // An MXFP4-only chip (AMD CDNA 4) dequantises NVFP4 to fp8 rather than reading it as MXFP4.
    let mx_only = chip(&[BF16_TENSOR, FP8_TENSOR, ("tensor", "mxfp4", 4e15, 0.5)]);
    assert_eq!(
        mx_only
            .find_engine("tensor", "nvfp4")
            .map(|e| e.dtype.as_str()),
        Some("fp8")
    );
}

/// The plan error `b` is rejected with.
fn plan_error(b: &PlanBuilder) -> PlanError {
    match Plan::from_batch(&b.build()) {
        Err(InferaError::Plan(e)) => e,
        other => panic!("expected a plan error, got {other:?}"),
    }
}

fn located(e: &PlanError) -> (Option<&str>, Option<&str>, Option<usize>) {
    (e.table.as_deref(), e.column.as_deref(), e.row)
}

#[test]
fn plan_errors_name_the_table_column_and_row() {
    let tweak = |f: &dyn Fn(&mut PlanBuilder)| {
        let mut b = tiny_dense_plan(3);
        f(&mut b);
        plan_error(&b)
    };
    // The column reader: a bad value, a dangling index.
    let e = tweak(&|b| b.chips[0].memory_bw = f64::NAN);
    assert_eq!(located(&e), (Some("chips"), Some("memory_bw"), Some(0)));
    assert_eq!(e.reason, "column 'chips.memory_bw' row 0 is NaN");
    let e = tweak(&|b| b.pools[0].chip = 5);
    assert_eq!(located(&e), (Some("pools"), Some("chip"), Some(0)));
    // A check of one row.
    let e = tweak(&|b| b.pools[0].tp = 2);
    assert_eq!(located(&e), (Some("pools"), Some("chips"), Some(0)));
    assert_eq!(
        InferaError::Plan(e).to_string(),
        "invalid plan: pool 'tiny-pool': 1 chips cannot form 1 instances of tp=2 x pp=1"
    );
    // Cross-table checks name the row they found wrong.
    let e = tweak(&|b| b.pools[0].kv_blocks = 1);
    assert_eq!(located(&e), (Some("pools"), Some("kv_blocks"), Some(0)));
    let e = plan_error(&tiny_dense_plan(0));
    assert_eq!(located(&e), (Some("workloads"), None, Some(0)));
    // A missing table names only the table.
    let tables = tiny_dense_plan(3)
        .tables()
        .into_iter()
        .filter(|(n, _)| *n != "slos")
        .collect();
    match Plan::from_batch(&pack(tables).unwrap()) {
        Err(InferaError::Plan(e)) => assert_eq!(located(&e), (Some("slos"), None, None)),
        other => panic!("expected a plan error, got {other:?}"),
    }
}

#[test]
fn unknown_roles_and_metrics_are_errors_not_defaults() {
    for name in Role::NAMES {
        assert!(Role::parse(name).is_ok(), "{name}");
    }
    for name in Metric::NAMES {
        assert!(Metric::parse(name).is_ok(), "{name}");
    }
    assert_eq!(Role::parse("decode").unwrap(), Role::Decode);
    assert_eq!(Metric::parse("queue").unwrap(), Metric::Queue);
    assert!(Role::parse("both").is_err());
    assert!(Metric::parse("latency").is_err());

    let mut b = tiny_dense_plan(3);
    b.pools[0].role = "both".into();
    let e = plan_error(&b);
    assert_eq!(located(&e), (Some("pools"), Some("role"), Some(0)));
    assert!(e.reason.contains("unknown role 'both'"), "{e}");
    let mut b = tiny_dense_plan(3);
    b.slo(0, "ttft", None, 1.0);
    b.slo(0, "latency", None, 1.0);
    let e = plan_error(&b);
    assert_eq!(located(&e), (Some("slos"), Some("metric"), Some(1)));
    assert!(e.reason.contains("unknown metric 'latency'"), "{e}");
}
