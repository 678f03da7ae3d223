//! Operator precisions and the order in which a chip may run one at a wider precision when it has no
//! engine for it (never at a narrower one).

/// Every precision an operator or engine may name, widest first (the order the compiler reads a chip's
/// rates in, so it fixes the order of the `engines` rows).
pub const PRECISIONS: [&str; 6] = ["fp32", "bf16", "fp16", "fp8", "int8", "int4"];

/// Precision fallback order: an operator in `fp8` may run on a `bf16` engine if the chip has no fp8 one.
/// The precision itself comes first; an unknown precision has no engine.
pub fn fallbacks(dtype: &str) -> &'static [&'static str] {
    match dtype {
        "int4" => &["int4", "int8", "fp8", "bf16", "fp16", "fp32"],
        "int8" => &["int8", "fp8", "bf16", "fp16", "fp32"],
        "fp8" => &["fp8", "bf16", "fp16", "fp32"],
        "bf16" => &["bf16", "fp16", "fp32"],
        "fp16" => &["fp16", "bf16", "fp32"],
        "fp32" => &["fp32"],
        _ => &[],
    }
}
