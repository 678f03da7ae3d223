//! Arrow helpers: columns of a result batch read as vectors, columns built from slices, and struct arrays
//! (plan tables) taken apart into named columns and put back together.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, StructArray, UInt32Array,
};
use arrow_schema::{Field, Fields};

// ---------------------------------------------------------------------------------------------------------
// Reading result columns

/// A float64 column of a result batch, nulls as NaN.
pub fn f64s(batch: &RecordBatch, col: &str) -> Vec<f64> {
    let a = batch
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"));
    a.as_primitive::<Float64Type>()
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect()
}

pub fn opt_f64s(batch: &RecordBatch, col: &str) -> Vec<Option<f64>> {
    batch
        .column_by_name(col)
        .unwrap()
        .as_primitive::<Float64Type>()
        .iter()
        .collect()
}

pub fn u32s(batch: &RecordBatch, col: &str) -> Vec<u32> {
    batch
        .column_by_name(col)
        .unwrap()
        .as_primitive::<UInt32Type>()
        .values()
        .to_vec()
}

pub fn u64s(batch: &RecordBatch, col: &str) -> Vec<u64> {
    batch
        .column_by_name(col)
        .unwrap()
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec()
}

pub fn bools(batch: &RecordBatch, col: &str) -> Vec<bool> {
    batch
        .column_by_name(col)
        .unwrap()
        .as_boolean()
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

/// A dictionary-encoded name column, decoded.
pub fn names(batch: &RecordBatch, col: &str) -> Vec<String> {
    let d = batch
        .column_by_name(col)
        .unwrap()
        .as_dictionary::<UInt32Type>();
    let values = d.values().as_string::<i32>();
    d.keys()
        .values()
        .iter()
        .map(|&k| values.value(k as usize).to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Building columns and tables

/// A string column.
pub fn str_array(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

/// A float64 column.
pub fn f64_array(v: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}

/// A uint32 column.
pub fn u32_array(v: &[u32]) -> ArrayRef {
    Arc::new(UInt32Array::from(v.to_vec()))
}

/// A boolean column.
pub fn bool_array(v: &[bool]) -> ArrayRef {
    Arc::new(BooleanArray::from(v.to_vec()))
}

/// The (name, column) pairs of a struct array.
pub fn columns(t: &StructArray) -> Vec<(String, ArrayRef)> {
    t.fields()
        .iter()
        .map(|f| f.name().clone())
        .zip(t.columns().iter().cloned())
        .collect()
}

/// A struct array from columns; `None` when Arrow rejects them (columns of different lengths).
pub fn rebuild(cols: Vec<(String, ArrayRef)>, len: usize) -> Option<StructArray> {
    if cols.is_empty() {
        return Some(StructArray::new_empty_fields(len, None));
    }
    let fields: Fields = cols
        .iter()
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    StructArray::try_new(fields, cols.into_iter().map(|(_, a)| a).collect(), None).ok()
}
