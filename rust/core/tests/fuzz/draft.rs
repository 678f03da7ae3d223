//! The plan batch under construction: its tables, their packing, its metadata and row count, the mutations
//! applied to them, and the column edits they are made of.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::OffsetBufferBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float64Array, Int32Array, LargeListArray,
    ListArray, RecordBatch, RecordBatchOptions, StringArray, StructArray, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};

use super::mutations::{array_of, Kind, Meta, Mutation, Packing};
use crate::common::{columns, rebuild};

/// The plan under construction: named tables, how each is packed, metadata, row count.
pub struct Draft {
    tables: Vec<(String, StructArray)>,
    packing: HashMap<usize, Packing>,
    metadata: HashMap<String, String>,
    rows: usize,
}

impl Draft {
    pub fn new(tables: Vec<(String, StructArray)>) -> Self {
        let metadata = HashMap::from([("infera.plan_version".to_string(), "1".to_string())]);
        Draft {
            tables,
            packing: HashMap::new(),
            metadata,
            rows: 1,
        }
    }

    /// Replaces table `ti` with `f(table)` unless `f` gives up.
    fn edit(&mut self, ti: usize, f: impl FnOnce(&StructArray) -> Option<StructArray>) {
        if self.tables.is_empty() {
            return;
        }
        let ti = ti % self.tables.len();
        if let Some(t) = f(&self.tables[ti].1) {
            self.tables[ti].1 = t;
        }
    }

    /// Replaces column `ci` of table `ti` with `f(column)` unless `f` gives up.
    fn edit_column(&mut self, ti: usize, ci: usize, f: impl FnOnce(&ArrayRef) -> Option<ArrayRef>) {
        self.edit(ti, |t| {
            let mut cols = columns(t);
            if cols.is_empty() {
                return None;
            }
            let ci = ci % cols.len();
            cols[ci].1 = f(&cols[ci].1)?;
            rebuild(cols, t.len())
        })
    }

    pub fn apply(&mut self, m: &Mutation) {
        match *m {
            Mutation::SetNumber {
                table,
                col,
                row,
                value,
            } => self.edit_column(table, col, |a| set_number(a, row, value)),
            Mutation::Dangle {
                table,
                col,
                row,
                past,
            } => {
                let n = self
                    .tables
                    .get(table % self.tables.len().max(1))
                    .map_or(0, |(_, t)| t.len());
                let value = n as f64 + past as f64;
                self.edit_column(table, col, |a| {
                    matches!(a.data_type(), DataType::UInt32).then_some(())?;
                    set_number(a, row, value)
                })
            }
            Mutation::SetString {
                table,
                col,
                row,
                value,
            } => self.edit_column(table, col, |a| set_string(a, row, value)),
            Mutation::DropColumn { table, col } => self.edit(table, |t| {
                let mut cols = columns(t);
                if cols.is_empty() {
                    return None;
                }
                cols.remove(col % cols.len());
                rebuild(cols, t.len())
            }),
            Mutation::AddColumn {
                table,
                name,
                kind,
                value,
            } => self.edit(table, |t| {
                let mut cols = columns(t);
                cols.push((name.to_string(), array_of(kind, t.len(), value)));
                rebuild(cols, t.len())
            }),
            Mutation::Retype {
                table,
                col,
                kind,
                value,
            } => self.edit_column(table, col, |a| Some(array_of(kind, a.len(), value))),
            Mutation::Null { table, col, row } => {
                self.edit_column(table, col, |a| set_null(a, row))
            }
            Mutation::EmptyTable { table } => self.edit(table, |t| Some(t.slice(0, 0))),
            Mutation::NoColumns { table } => self.edit(table, |t| {
                Some(StructArray::new_empty_fields(t.len(), None))
            }),
            Mutation::DuplicateRows { table } => self.edit(table, |t| {
                let idx: Vec<usize> = (0..t.len()).chain(0..t.len()).collect();
                take_rows(t, &idx)
            }),
            Mutation::Truncate { table, keep } => {
                self.edit(table, |t| Some(t.slice(0, keep.min(t.len()))))
            }
            Mutation::DropTable { table } => {
                if !self.tables.is_empty() {
                    let ti = table % self.tables.len();
                    self.tables.remove(ti);
                    self.packing = self
                        .packing
                        .drain()
                        .filter(|(k, _)| *k != ti)
                        .map(|(k, v)| (if k > ti { k - 1 } else { k }, v))
                        .collect();
                }
            }
            Mutation::AddTable {
                name,
                rows,
                kind,
                value,
            } => {
                let cols = vec![
                    ("chip".to_string(), array_of(Kind::UInt32, rows, 0.0)),
                    ("name".to_string(), array_of(Kind::Utf8, rows, value)),
                    ("capacity_bytes".to_string(), array_of(kind, rows, value)),
                    (
                        "bandwidth".to_string(),
                        array_of(Kind::Float64, rows, value),
                    ),
                    ("efficiency".to_string(), array_of(Kind::Float64, rows, 1.0)),
                    ("src".to_string(), array_of(Kind::UInt32, rows, 0.0)),
                    ("dst".to_string(), array_of(Kind::UInt32, rows, 1.0)),
                    ("latency_s".to_string(), array_of(Kind::Float64, rows, 0.0)),
                ];
                if let Some(t) = rebuild(cols, rows) {
                    self.tables.push((name.to_string(), t));
                }
            }
            Mutation::DuplicateTable { table } => {
                if !self.tables.is_empty() {
                    let t = self.tables[table % self.tables.len()].clone();
                    self.tables.push(t);
                }
            }
            Mutation::Pack { table, how } => {
                if !self.tables.is_empty() {
                    self.packing.insert(table % self.tables.len(), how);
                }
            }
            Mutation::Metadata(ref meta) => match meta {
                Meta::Missing => self.metadata.clear(),
                Meta::Version(v) => {
                    self.metadata
                        .insert("infera.plan_version".into(), v.to_string());
                }
                Meta::ExtraKey => {
                    self.metadata.insert("infera.other".into(), "x".into());
                }
            },
            Mutation::Rows(n) => self.rows = n,
        }
    }

    /// The packed batch, or `None` when Arrow itself refuses the shape (nothing to decode then).
    pub fn batch(&self) -> Option<RecordBatch> {
        let n = self.rows;
        let mut fields = Vec::new();
        let mut cols: Vec<ArrayRef> = Vec::new();
        for (i, (name, t)) in self.tables.iter().enumerate() {
            let len = t.len();
            // Row 0 holds the table; further rows (when `rows` is 2) are empty lists.
            let offsets32 = |first: usize| {
                let mut o = OffsetBufferBuilder::<i32>::new(n);
                (0..n).for_each(|r| o.push_length(if r == 0 { first } else { 0 }));
                o.finish()
            };
            let offsets64 = |first: usize| {
                let mut o = OffsetBufferBuilder::<i64>::new(n);
                (0..n).for_each(|r| o.push_length(if r == 0 { first } else { 0 }));
                o.finish()
            };
            // A validity buffer with every element null.
            let all_null = |k: usize| Int32Array::from(vec![None::<i32>; k]).nulls().cloned();
            let list = |values: ArrayRef| -> Option<ArrayRef> {
                let item = Arc::new(Field::new("item", values.data_type().clone(), true));
                let offsets = offsets32(values.len());
                Some(Arc::new(
                    ListArray::try_new(item, offsets, values, None).ok()?,
                ))
            };
            let col: ArrayRef = match self.packing.get(&i) {
                None => list(Arc::new(t.clone()))?,
                Some(Packing::LargeList) => {
                    let item = Arc::new(Field::new("item", t.data_type().clone(), true));
                    Arc::new(
                        LargeListArray::try_new(item, offsets64(len), Arc::new(t.clone()), None)
                            .ok()?,
                    )
                }
                Some(Packing::NullElement) => {
                    let item = Arc::new(Field::new("item", t.data_type().clone(), true));
                    Arc::new(
                        ListArray::try_new(item, offsets32(len), Arc::new(t.clone()), all_null(n))
                            .ok()?,
                    )
                }
                Some(Packing::NotAList) => {
                    Arc::new(Int32Array::from_iter_values((0..n).map(|_| 1)))
                }
                Some(Packing::ListOfInts) => list(Arc::new(Int32Array::from_iter_values(
                    (0..len).map(|x| x as i32),
                )))?,
                Some(Packing::FixedSizeList) => {
                    if n != 1 || len == 0 {
                        return None;
                    }
                    let item = Arc::new(Field::new("item", t.data_type().clone(), true));
                    Arc::new(
                        FixedSizeListArray::try_new(item, len as i32, Arc::new(t.clone()), None)
                            .ok()?,
                    )
                }
                Some(Packing::NullStructRows) => {
                    let (f, c, _) = t.clone().into_parts();
                    let s = if f.is_empty() {
                        StructArray::new_empty_fields(len, all_null(len))
                    } else {
                        StructArray::try_new(f, c, all_null(len)).ok()?
                    };
                    list(Arc::new(s))?
                }
            };
            fields.push(Field::new(name, col.data_type().clone(), true));
            cols.push(col);
        }
        let schema = Arc::new(Schema::new_with_metadata(fields, self.metadata.clone()));
        RecordBatch::try_new_with_options(
            schema,
            cols,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )
        .ok()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Column edits

/// A column's values as f64 when it is a primitive numeric column (`None` for other types).
fn numbers(a: &ArrayRef) -> Option<Vec<Option<f64>>> {
    macro_rules! read {
        ($t:ty) => {
            Some(
                a.as_primitive::<$t>()
                    .iter()
                    .map(|x| x.map(|x| x as f64))
                    .collect(),
            )
        };
    }
    match a.data_type() {
        DataType::Float64 => read!(Float64Type),
        DataType::Float32 => read!(Float32Type),
        DataType::Int8 => read!(Int8Type),
        DataType::Int32 => read!(Int32Type),
        DataType::Int64 => read!(Int64Type),
        DataType::UInt8 => read!(UInt8Type),
        DataType::UInt32 => read!(UInt32Type),
        DataType::UInt64 => read!(UInt64Type),
        _ => None,
    }
}

/// `a` with row `row` set to `value`: kept in its type when it is an unsigned/f64 column that holds the value
/// exactly, otherwise the whole column becomes f64.
fn set_number(a: &ArrayRef, row: usize, value: f64) -> Option<ArrayRef> {
    let mut vals = numbers(a)?;
    if vals.is_empty() {
        return None;
    }
    let row = row % vals.len();
    vals[row] = Some(value);
    let exact = |max: f64| {
        vals.iter()
            .all(|v| v.is_none_or(|x| x >= 0.0 && x <= max && x.fract() == 0.0))
    };
    Some(match a.data_type() {
        DataType::UInt32 if exact(u32::MAX as f64) => Arc::new(
            vals.iter()
                .map(|v| v.map(|x| x as u32))
                .collect::<UInt32Array>(),
        ),
        DataType::UInt64 if exact(u64::MAX as f64) => Arc::new(
            vals.iter()
                .map(|v| v.map(|x| x as u64))
                .collect::<UInt64Array>(),
        ),
        _ => Arc::new(vals.into_iter().collect::<Float64Array>()),
    })
}

/// `a` (a string column) with row `row` set to `value`.
fn set_string(a: &ArrayRef, row: usize, value: &str) -> Option<ArrayRef> {
    if a.data_type() != &DataType::Utf8 || a.is_empty() {
        return None;
    }
    let s = a.as_string::<i32>();
    let row = row % s.len();
    Some(Arc::new(
        (0..s.len())
            .map(|i| {
                if i == row {
                    Some(value)
                } else {
                    s.is_valid(i).then(|| s.value(i))
                }
            })
            .collect::<StringArray>(),
    ))
}

/// `a` with row `row` null (for the types the builder writes).
fn set_null(a: &ArrayRef, row: usize) -> Option<ArrayRef> {
    if a.is_empty() {
        return None;
    }
    let row = row % a.len();
    let keep = |i: usize| i != row && a.is_valid(i);
    Some(match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            Arc::new(
                (0..s.len())
                    .map(|i| keep(i).then(|| s.value(i)))
                    .collect::<StringArray>(),
            )
        }
        DataType::Boolean => {
            let b = a.as_boolean();
            Arc::new(
                (0..b.len())
                    .map(|i| keep(i).then(|| b.value(i)))
                    .collect::<BooleanArray>(),
            )
        }
        DataType::UInt32 => {
            let p = a.as_primitive::<UInt32Type>();
            Arc::new(
                (0..p.len())
                    .map(|i| keep(i).then(|| p.value(i)))
                    .collect::<UInt32Array>(),
            )
        }
        _ => {
            let vals = numbers(a)?;
            Arc::new(
                vals.into_iter()
                    .enumerate()
                    .map(|(i, v)| if i == row { None } else { v })
                    .collect::<Float64Array>(),
            )
        }
    })
}

/// The rows `idx` of a table.
fn take_rows(t: &StructArray, idx: &[usize]) -> Option<StructArray> {
    let cols = columns(t)
        .into_iter()
        .map(|(n, a)| {
            let parts: Vec<ArrayRef> = idx.iter().map(|&i| a.slice(i, 1)).collect();
            let refs: Vec<&dyn Array> = parts.iter().map(|p| p.as_ref()).collect();
            let joined = if refs.is_empty() {
                a.slice(0, 0)
            } else {
                arrow_select_concat(&refs)?
            };
            Some((n, joined))
        })
        .collect::<Option<Vec<_>>>()?;
    rebuild(cols, idx.len())
}

/// Concatenation for the column types the base plans hold (no arrow-select dependency).
fn arrow_select_concat(parts: &[&dyn Array]) -> Option<ArrayRef> {
    let first = parts[0];
    macro_rules! prim {
        ($t:ty, $arr:ty) => {
            Some(Arc::new(
                parts
                    .iter()
                    .flat_map(|p| p.as_primitive::<$t>().iter().collect::<Vec<_>>())
                    .collect::<$arr>(),
            ))
        };
    }
    match first.data_type() {
        DataType::Float64 => prim!(Float64Type, Float64Array),
        DataType::UInt32 => prim!(UInt32Type, UInt32Array),
        DataType::UInt64 => prim!(UInt64Type, UInt64Array),
        DataType::Utf8 => Some(Arc::new(
            parts
                .iter()
                .flat_map(|p| {
                    p.as_string::<i32>()
                        .iter()
                        .map(|s| s.map(str::to_string))
                        .collect::<Vec<_>>()
                })
                .collect::<StringArray>(),
        )),
        DataType::Boolean => Some(Arc::new(
            parts
                .iter()
                .flat_map(|p| p.as_boolean().iter().collect::<Vec<_>>())
                .collect::<BooleanArray>(),
        )),
        _ => None,
    }
}
