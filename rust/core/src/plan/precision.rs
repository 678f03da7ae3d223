//! Operator precisions and the order in which a chip may run one at a wider precision when it has no
//! engine for it (never at a narrower one).

/// Every precision an operator or engine may name, widest first (the order the compiler reads a chip's
/// rates in, so it fixes the order of the `engines` rows). The two 4-bit float block formats sit between
/// the 8-bit ones and int4 because their block scales make them slightly wider than 4 bits per element:
/// `nvfp4` (NVIDIA: E2M1 values in blocks of 16, one FP8 E4M3 scale per block and an FP32 scale per tensor)
/// and `mxfp4` (OCP microscaling: E2M1 values in blocks of 32, one E8M0 scale per block).
pub const PRECISIONS: [&str; 8] = [
    "fp32", "bf16", "fp16", "fp8", "int8", "nvfp4", "mxfp4", "int4",
];

/// Precision fallback order: an operator in `fp8` may run on a `bf16` engine if the chip has no fp8 one.
/// The precision itself comes first; an unknown precision has no engine. A 4-bit float operator on a chip
/// without an engine for its block format dequantises to fp8 (then wider): the two formats do not stand in
/// for each other (their scales differ in block size and encoding) and an integer engine cannot take them.
pub fn fallbacks(dtype: &str) -> &'static [&'static str] {
    match dtype {
        "int4" => &["int4", "int8", "fp8", "bf16", "fp16", "fp32"],
        "nvfp4" => &["nvfp4", "fp8", "bf16", "fp16", "fp32"],
        "mxfp4" => &["mxfp4", "fp8", "bf16", "fp16", "fp32"],
        "int8" => &["int8", "fp8", "bf16", "fp16", "fp32"],
        "fp8" => &["fp8", "bf16", "fp16", "fp32"],
        "bf16" => &["bf16", "fp16", "fp32"],
        "fp16" => &["fp16", "bf16", "fp32"],
        "fp32" => &["fp32"],
        _ => &[],
    }
}
