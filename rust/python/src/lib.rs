//! `infera._core`: the thin PyO3 layer over `infera-core`.
//!
//! A plan comes in as a one-row Arrow record batch (through `__arrow_c_array__` or the C data interface),
//! validated in full as it is imported ([`plan_batch`]); results go out as [`stream::ArrowStream`]s that
//! Polars imports without copying. The GIL is released while simulating. The exception classes are created here ([`errors`]), and so are the names and constants the
//! Python compiler needs, read from [`infera_core::vocabulary`] so that each is defined once, in Rust.
//! `python/infera/_core.pyi` is this module's stub; `tests/test_binding.py` checks the two agree.

mod errors;
mod plan_batch;
mod stream;

use std::panic::{catch_unwind, AssertUnwindSafe};

use infera_core::{Plan, SimOptions, SimOutput};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use errors::{InferaError, PlanError, SimulationError};
use plan_batch::PlanBatch;
use stream::ArrowStream;

/// Runs `f` with the GIL released, turning both errors and panics into Python exceptions.
fn guarded<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> infera_core::Result<T> + Send,
) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(errors::to_py(py, e)),
        Err(panic) => Err(errors::from_panic(panic)),
    }
}

type Outputs = (
    ArrowStream,
    ArrowStream,
    ArrowStream,
    ArrowStream,
    ArrowStream,
);

fn output(out: SimOutput) -> Outputs {
    (
        ArrowStream::new(out.requests),
        ArrowStream::new(out.iterations),
        ArrowStream::new(out.instances),
        ArrowStream::new(out.stats),
        ArrowStream::new(out.classes),
    )
}

/// Simulates a packed plan (a one-row Arrow record batch, e.g. ``Plan.to_batch()``) and returns its
/// ``(requests, iterations, instances, stats, classes)`` tables as ``ArrowStream``s (``classes``: per run and
/// traffic class, empty when no run's traffic has classes).
///
/// ``requests=False`` keeps no per-request rows, ``iterations=False`` no per-step rows, and
/// ``token_stats=False`` skips each request's TPOT percentile. Raises ``PlanError`` if the plan is malformed
/// and ``SimulationError`` if the engine fails.
#[pyfunction]
#[pyo3(signature = (plan, *, requests = true, iterations = true, token_stats = true))]
fn simulate(
    py: Python<'_>,
    plan: PlanBatch,
    requests: bool,
    iterations: bool,
    token_stats: bool,
) -> PyResult<Outputs> {
    let batch = plan.0;
    let opts = SimOptions {
        requests,
        iterations,
        token_stats,
    };
    guarded(py, move || infera_core::simulate_batch(&batch, opts)).map(output)
}

/// Decodes and validates a packed plan without simulating it; raises ``PlanError`` if it is malformed.
#[pyfunction]
fn validate_plan(py: Python<'_>, plan: PlanBatch) -> PyResult<()> {
    let batch = plan.0;
    guarded(py, move || Plan::from_batch(&batch).map(|_| ()))
}

/// Reads a plan from an Arrow IPC file and simulates it with no Python in the loop; returns the same five
/// ``ArrowStream``s as ``simulate``. A file that cannot be read or decoded raises ``PlanError``.
#[pyfunction]
#[pyo3(signature = (path, *, requests = true, iterations = true, token_stats = true))]
fn simulate_file(
    py: Python<'_>,
    path: String,
    requests: bool,
    iterations: bool,
    token_stats: bool,
) -> PyResult<Outputs> {
    let opts = SimOptions {
        requests,
        iterations,
        token_stats,
    };
    guarded(py, move || {
        infera_core::simulate(&Plan::read_ipc(&path)?, opts)
    })
    .map(output)
}

/// Adds the core's vocabulary: names as tuples, precision fallbacks as a dict of tuples.
fn add_vocabulary(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let v = infera_core::vocabulary();
    m.add("PLAN_VERSION", v.plan_version)?;
    m.add("MAX_INSTANCES", v.max_instances)?;
    for (name, names) in [
        ("ROUTERS", v.routers),
        ("POLICIES", v.policies),
        ("ARRIVALS", v.arrivals),
        ("ROLES", v.roles),
        ("METRICS", v.metrics),
        ("OPERATOR_ENGINES", v.operator_engines),
    ] {
        m.add(name, PyTuple::new(py, names)?)?;
    }
    let fallbacks = PyDict::new(py);
    for &(dtype, order) in &v.precisions {
        fallbacks.set_item(dtype, PyTuple::new(py, order)?)?;
    }
    let precisions = v.precisions.iter().map(|&(dtype, _)| dtype);
    m.add("PRECISIONS", PyTuple::new(py, precisions)?)?;
    m.add("PRECISION_FALLBACKS", fallbacks)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    add_vocabulary(m)?;
    m.add("InferaError", py.get_type::<InferaError>())?;
    let plan_error = py.get_type::<PlanError>();
    for field in errors::PLAN_ERROR_FIELDS {
        plan_error.setattr(field, py.None())?;
    }
    m.add("PlanError", plan_error)?;
    m.add("SimulationError", py.get_type::<SimulationError>())?;
    m.add_class::<ArrowStream>()?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(validate_plan, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_file, m)?)?;
    Ok(())
}
