//! The plan as the core receives it: every malformed plan is an `InferaError::Plan` naming what is wrong, and
//! a plan read from an Arrow IPC file simulates like the batch it was written from.

mod decoding;
mod ipc;
mod ipc_framing;
mod validation;
