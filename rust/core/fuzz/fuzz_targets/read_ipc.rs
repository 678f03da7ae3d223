//! `read_ipc`: arbitrary bytes as a plan file. `Plan::read_ipc_from` decodes them and, when they decode,
//! validates the plan and checks the names it uses (`infera_core::check`); a small plan is then simulated.

#![no_main]

use std::io::Cursor;

use infera_core::{Plan, SimOptions};
use infera_core_fuzz::simulate_if_small;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(plan) = Plan::read_ipc_from(Cursor::new(data)) {
        simulate_if_small(&plan, SimOptions::default());
    }
});
