//! `infera._core`: the thin PyO3 layer over `infera-core`.
//!
//! Arrow crosses the boundary through the C data interface (pyarrow ↔ arrow-rs, no copy). The GIL is released
//! while simulating. Errors become the Python classes of `infera.exceptions` (one hierarchy, defined once, in
//! Python), and a panic inside the core — a bug, never expected — is caught and raised as
//! `infera.exceptions.SimulationError` instead of aborting the interpreter.

use std::panic::{catch_unwind, AssertUnwindSafe};

use arrow::pyarrow::PyArrowType;
use arrow::record_batch::RecordBatch;
use infera_core::{InferaError, Plan, SimOptions, SimOutput};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

type Batch = PyArrowType<RecordBatch>;

/// Raises the `infera.exceptions` class named `class` with `message`.
fn raise(py: Python<'_>, class: &str, message: String) -> PyErr {
    match py
        .import("infera.exceptions")
        .and_then(|m| m.getattr(class))
    {
        Ok(cls) => PyErr::from_value(match cls.call1((message.clone(),)) {
            Ok(obj) => obj,
            Err(e) => return e,
        }),
        Err(_) => PyException::new_err(message),
    }
}

fn to_py(py: Python<'_>, err: InferaError) -> PyErr {
    match err {
        InferaError::Plan(e) => raise(py, "PlanError", e.to_string()),
        InferaError::Arrow(e) => raise(py, "PlanError", format!("arrow: {e}")),
        InferaError::Io(e) => raise(py, "PlanError", format!("cannot read plan: {e}")),
        InferaError::Simulation(m) => raise(py, "SimulationError", m),
    }
}

/// Runs `f` with the GIL released, turning both errors and panics into Python exceptions.
fn guarded<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> infera_core::Result<T> + Send,
) -> PyResult<T> {
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(f)));
    match outcome {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_py(py, e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(raise(
                py,
                "SimulationError",
                format!("internal error in infera core: {what}"),
            ))
        }
    }
}

type Outputs = (Batch, Batch, Batch, Batch);

fn output(out: SimOutput) -> Outputs {
    (
        PyArrowType(out.requests),
        PyArrowType(out.iterations),
        PyArrowType(out.instances),
        PyArrowType(out.stats),
    )
}

/// Simulates a packed plan (a one-row pyarrow RecordBatch). Returns `(requests, iterations, instances,
/// stats)` as pyarrow RecordBatches.
#[pyfunction]
#[pyo3(signature = (plan, *, requests = true, iterations = true, token_stats = true))]
fn simulate(
    py: Python<'_>,
    plan: Batch,
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

/// Decodes and validates a packed plan without simulating it; raises `PlanError` if it is malformed.
#[pyfunction]
fn validate_plan(py: Python<'_>, plan: Batch) -> PyResult<()> {
    let batch = plan.0;
    guarded(py, move || Plan::from_batch(&batch).map(|_| ()))
}

/// Reads a plan from an Arrow IPC file and simulates it, with no Python in the loop.
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

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PLAN_VERSION", infera_core::plan::PLAN_VERSION)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(validate_plan, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_file, m)?)?;
    Ok(())
}
