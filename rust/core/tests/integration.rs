//! The integration tests of `infera-core`, one test crate so that the library is linked once: plans built
//! with `infera_core::builder` and simulated (`engine`), decoded, validated and read from files (`plan`),
//! and fuzzed (`fuzz`); `common` holds what more than one of them uses.

mod common;
mod engine;
mod fuzz;
mod plan;
