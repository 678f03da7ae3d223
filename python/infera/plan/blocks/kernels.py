"""A chip's kernel-efficiency fields → :class:`~infera.plan.specs.KernelSpec`: the shaped curves of
docs/cost-model.md "Kernel efficiency by shape" and the ``kernels = shaped | roofline`` switch."""

from __future__ import annotations

from infera.exceptions import CompileError
from infera.plan.fields import Fields
from infera.plan.specs import DTYPES, KernelSpec

#: ``kernels = shaped`` prices with the curves below; ``roofline`` ignores them (the chip's constant
#: ``compute_efficiency``, ``memory_efficiency`` and ``kernel_overhead`` alone).
KERNEL_MODES = ("shaped", "roofline")
_FRACTIONS = ("read_efficiency", "copy_efficiency", "attention_efficiency")
#: The precisions ``gemm_efficiency`` applies to; narrower ones keep ``compute_efficiency`` unless
#: ``gemm_efficiency_<precision>`` is given.
WIDE = ("fp32", "bf16", "fp16")


def compile_kernels(f: Fields) -> tuple[KernelSpec, dict[str, float]]:
    """The chip's shape fields, and the matmul peak efficiency per precision they set for its tensor rates
    (empty under ``kernels = roofline``, or when no ``gemm_efficiency`` field is given). Every field is read
    and checked in both modes, so a typo or a bad value is reported even while the curves are switched off."""
    mode = f.choice("kernels", KERNEL_MODES, "shaped")
    gemm: dict[str, float] = {}
    values: dict[str, float] = {}
    for key in ("gemm_efficiency", *(f"gemm_efficiency_{dt}" for dt in DTYPES), *_FRACTIONS):
        a = f.values.get(key)
        v = f.quantity(key, ("number",))
        if v is None:
            continue
        if not 0 < v <= 1:
            raise CompileError(f"{f.where}: {key} must be in (0, 1], got {v:g}", a.value.loc)  # type: ignore[union-attr]
        values[key] = v
    half_tokens = f.quantity("gemm_half_tokens", ("tokens", "number"), 0.0, positive=False)
    half_context = f.quantity("attention_half_context", ("tokens", "number"), 0.0, positive=False)
    read_half = f.quantity("read_half_bytes", ("bytes",), 0.0, positive=False)
    attn_half = f.quantity("attention_half_bytes", ("bytes",), 0.0, positive=False)
    if mode == "roofline":
        return KernelSpec(), gemm
    if "gemm_efficiency" in values:
        # A 16-bit matmul's measured curve says nothing about the narrow precisions' tensor-core paths
        # (FP8 peaks at 0.72 of its datasheet on our H100 against 0.80 for bf16): those need their own field.
        gemm = {dt: values["gemm_efficiency"] for dt in WIDE if dt in DTYPES}
    gemm.update({dt: values[f"gemm_efficiency_{dt}"] for dt in DTYPES if f"gemm_efficiency_{dt}" in values})
    return KernelSpec(gemm_half_tokens=half_tokens or 0.0, read_efficiency=values.get("read_efficiency", 0.0),
                      copy_efficiency=values.get("copy_efficiency", 0.0), read_half_bytes=read_half or 0.0,
                      attention_efficiency=values.get("attention_efficiency", 0.0),
                      attention_half_context=half_context or 0.0, attention_half_bytes=attn_half or 0.0), gemm
