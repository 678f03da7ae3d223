//! Plans arriving from Python: a one-row record batch imported through the Arrow C data interface and
//! validated in full before the core reads any of it.
//!
//! The C data interface hands over lengths, offsets and buffer pointers, and the importer must trust them:
//! an array whose offsets run backwards or past its values, or whose strings are not UTF-8, claims data its
//! buffers do not hold. arrow's checked import (`PyArrowType<RecordBatch>`) does run
//! `ArrayData::validate_full`, but it raises pyarrow's `ArrowException`; this import runs the same
//! validation table by table and raises a `PlanError` naming the table (and the column, when one is at
//! fault), like any other malformed plan.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::pyarrow::{FromPyArrowUnchecked, PyArrowException};
use arrow::record_batch::RecordBatch;
use infera_core::PlanError;
use pyo3::prelude::*;

use crate::errors;

/// Validates one packed table in full: first each column of its rows (a `list<struct>`, as plans pack
/// tables), so that a fault is named by its column, then the whole.
fn validate(table: &ArrayRef) -> Result<(), (Option<&str>, ArrowError)> {
    let rows = match table.data_type() {
        DataType::List(_) => table.as_list::<i32>().values().as_struct_opt(),
        DataType::LargeList(_) => table.as_list::<i64>().values().as_struct_opt(),
        _ => None,
    };
    for (field, column) in rows.iter().flat_map(|r| r.fields().iter().zip(r.columns())) {
        column
            .to_data()
            .validate_full()
            .map_err(|e| (Some(field.name().as_str()), e))?;
    }
    table.to_data().validate_full().map_err(|e| (None, e))
}

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
            if let Err((col, e)) = validate(column) {
                let table = field.name();
                let err = match col {
                    Some(col) => PlanError::new(format!(
                        "column '{col}' of table '{table}' is not valid Arrow data: {e}"
                    ))
                    .column(col),
                    None => PlanError::new(format!("table '{table}' is not valid Arrow data: {e}")),
                };
                return Err(invalid(err.table(table)));
            }
        }
        Ok(PlanBatch(batch))
    }
}
