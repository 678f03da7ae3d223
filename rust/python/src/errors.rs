//! The exception classes of `infera._core`, and how the core's errors and panics become them.
//!
//! `InferaError` is the base of every error infera raises on purpose; `infera.exceptions` re-exports these
//! classes and adds the compiler's own (`InferaSyntaxError`, `CompileError`) beneath `InferaError`.

use std::any::Any;

use infera_core::error::PlanError as CorePlanError;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    infera._core,
    InferaError,
    PyException,
    "Base class of every error infera raises on purpose."
);
create_exception!(
    infera._core,
    PlanError,
    InferaError,
    "A plan (Arrow tables) is malformed or inconsistent.\n\n\
     ``table``, ``column`` and ``row`` say where when the core knows (else ``None``); ``reason`` says what is \
     wrong (``None`` when raised from Python with a message only)."
);
create_exception!(
    infera._core,
    SimulationError,
    InferaError,
    "The engine could not complete a simulation (an internal invariant broke)."
);

/// The attributes every `PlanError` carries; the class holds `None` for each, so errors raised from Python
/// with a message alone have them too.
pub(crate) const PLAN_ERROR_FIELDS: [&str; 4] = ["table", "column", "row", "reason"];

/// A `PlanError` whose message is `str(err)`, with where it happened.
fn plan_error(py: Python<'_>, message: String, err: Option<CorePlanError>) -> PyErr {
    let raised = PlanError::new_err(message.clone());
    let value = raised.value(py);
    let set = match err {
        Some(e) => value
            .setattr("table", e.table)
            .and_then(|()| value.setattr("column", e.column))
            .and_then(|()| value.setattr("row", e.row))
            .and_then(|()| value.setattr("reason", e.reason)),
        None => value.setattr("reason", message),
    };
    match set {
        Ok(()) => raised,
        Err(e) => e,
    }
}

/// The Python exception for an error of the core.
pub fn to_py(py: Python<'_>, err: infera_core::InferaError) -> PyErr {
    use infera_core::InferaError as E;
    match err {
        E::Plan(e) => plan_error(py, e.to_string(), Some(e)),
        E::Arrow(e) => plan_error(py, format!("arrow: {e}"), None),
        E::Io(e) => plan_error(py, format!("cannot read plan: {e}"), None),
        E::Simulation(m) => SimulationError::new_err(m),
    }
}

/// A panic inside the core is a bug, never expected: it becomes a `SimulationError` instead of aborting the
/// interpreter.
pub fn from_panic(panic: Box<dyn Any + Send>) -> PyErr {
    let what = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    SimulationError::new_err(format!("internal error in infera core: {what}"))
}
