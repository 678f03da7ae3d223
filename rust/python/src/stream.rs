//! Result tables handed to Python as Arrow C streams (the Arrow PyCapsule interface), without copying.
//!
//! Polars (`pl.DataFrame(stream)`), pyarrow (`pa.table(stream)`) and any other consumer of
//! `__arrow_c_stream__` import the record batch's buffers as they are; the arrow-rs buffers stay alive until
//! the last frame using them is dropped.

use arrow::ffi_stream::FFI_ArrowArrayStream;
use arrow::record_batch::{RecordBatch, RecordBatchIterator};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// One result table of a simulation, exported once through the Arrow PyCapsule interface
/// (``pl.DataFrame(stream)`` or ``pa.table(stream)`` takes its buffers without copying them).
#[pyclass(module = "infera._core")]
pub struct ArrowStream {
    batch: Option<RecordBatch>,
}

impl ArrowStream {
    pub fn new(batch: RecordBatch) -> Self {
        ArrowStream { batch: Some(batch) }
    }
}

#[pymethods]
impl ArrowStream {
    /// Moves the table into an ``arrow_array_stream`` capsule. A stream is consumed once: a second call
    /// raises ``ValueError``. ``requested_schema`` is ignored (the protocol makes it best-effort, and each
    /// table has one schema).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &mut self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        drop(requested_schema);
        let batch = self
            .batch
            .take()
            .ok_or_else(|| PyValueError::new_err("this Arrow stream has already been consumed"))?;
        let schema = batch.schema();
        let reader = RecordBatchIterator::new([Ok(batch)], schema);
        PyCapsule::new_with_value(
            py,
            FFI_ArrowArrayStream::new(Box::new(reader)),
            c"arrow_array_stream",
        )
    }

    fn __repr__(&self) -> String {
        match &self.batch {
            Some(b) => format!(
                "ArrowStream({} rows, {} columns)",
                b.num_rows(),
                b.num_columns()
            ),
            None => "ArrowStream(consumed)".into(),
        }
    }
}
