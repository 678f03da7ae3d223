//! Plans arriving from Python: a one-row record batch imported through the Arrow C data interface and
//! validated in full before the core reads any of it.
//!
//! The C data interface hands over lengths, offsets and buffer pointers, and the importer must trust them:
//! an array whose offsets run backwards or past its values, or whose strings are not UTF-8, claims data its
//! buffers do not hold. arrow's checked import (`PyArrowType<RecordBatch>`) does run
//! `ArrayData::validate_full`, but it raises pyarrow's `ArrowException`; this import runs the same
//! validation column by column and raises a `PlanError` naming the table, like any other malformed plan.

use arrow::array::Array;
use arrow::pyarrow::{FromPyArrowUnchecked, PyArrowException};
use arrow::record_batch::RecordBatch;
use infera_core::PlanError;
use pyo3::prelude::*;

use crate::errors;

/// A plan batch whose every column passed `validate_full`.
pub(crate) struct PlanBatch(pub RecordBatch);

impl FromPyObject<'_, '_> for PlanBatch {
    type Error = PyErr;

    fn extract(value: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        let py = value.py();
        let invalid = |err: PlanError| errors::to_py(py, err.into());
        // SAFETY: the batch is returned, and so read, only once every column has passed `validate_full`.
        let batch = unsafe { RecordBatch::from_pyarrow_bound_unchecked(&value) }.map_err(|e| {
            if e.is_instance_of::<PyArrowException>(py) {
                invalid(PlanError::new(format!(
                    "the plan is not a valid Arrow record batch: {e}"
                )))
            } else {
                e
            }
        })?;
        let schema = batch.schema();
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            if let Err(e) = column.to_data().validate_full() {
                return Err(invalid(
                    PlanError::new(format!(
                        "table '{}' is not valid Arrow data: {e}",
                        field.name()
                    ))
                    .table(field.name()),
                ));
            }
        }
        Ok(PlanBatch(batch))
    }
}
