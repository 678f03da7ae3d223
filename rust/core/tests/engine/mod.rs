//! End-to-end tests of the engine: plans built with `infera_core::builder`, simulated, and checked against
//! hand-computed step prices and serving invariants.

mod closed_loop;
mod disaggregated;
mod many_requests;
mod sessions;
mod single_request;
mod sweep;
