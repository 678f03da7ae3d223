//! Plan fuzzing: valid plan batches from `infera_core::builder`, malformed at random (columns dropped, added,
//! retyped or nulled; NaN, ±inf, negative, enormous values; dangling indices; empty, missing, duplicated or
//! null tables; tables that are not lists of structs; wrong metadata; zero- or two-row batches), then decoded
//! with `Plan::from_batch` and, when that succeeds and the plan is small, simulated. A second property first
//! pushes the rows to extremes that often stay valid (pool shapes up to a million instances or tp = 65536,
//! budgets of one token, u32::MAX KV blocks, 1e-300 or 1e300 speeds, unsorted or enormous arrivals, closed
//! loops, pipelines, overload limits) so the engine, not only the decoder, meets them.
//!
//! Properties: decoding and simulating return `Ok` or `Err` and never panic (a panic is caught with
//! `catch_unwind` and reported with the case), never hang (each case's simulation has a time limit), and an
//! unmodified base plan always decodes and simulates. Plans with more than 64 instances or 100,000 tokens
//! are decoded but not simulated (see `small`).
//!
//! CI runs `DEFAULT_CASES` cases of each fuzz property (about 10 s for both in a debug build); proptest's
//! `PROPTEST_CASES` environment variable overrides it, e.g. `PROPTEST_CASES=300000 cargo test -p infera-core
//! --release --test integration fuzz::` (about 3 minutes).
//!
//! The modules: valid base plans (`base`), typed changes to their rows (`tweaks`), malformations
//! (`mutations`) applied to a `draft` of the packed batch, running one case (`cases`), and the properties.

mod base;
mod cases;
mod draft;
mod mutations;
mod properties;
mod tweaks;
