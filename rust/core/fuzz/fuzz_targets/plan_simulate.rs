//! `plan_simulate`: a plan described by structured fuzzer input (`infera_core_fuzz::spec`), packed by the
//! builder, decoded with `Plan::from_batch` and, when small, simulated with the options the input draws.

#![no_main]

use infera_core::Plan;
use infera_core_fuzz::simulate_if_small;
use infera_core_fuzz::spec::Spec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|spec: Spec| {
    if let Ok(plan) = Plan::from_batch(&spec.builder().build()) {
        simulate_if_small(&plan, spec.options());
    }
});
