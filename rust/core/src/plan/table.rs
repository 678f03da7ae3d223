//! Typed, checked access to one plan table (an Arrow struct array), and finding that table in the packed
//! plan batch.
//!
//! Plans come from outside the crate (Python, files, other services), so every read is checked: a missing
//! column, a wrong type, a null where a value is required, or a non-finite number becomes a
//! [`PlanError`] naming the table, the column and the row. Numeric columns accept any Arrow integer
//! or float type, because producers differ (pyarrow infers `int64`, other writers `uint32`).

use arrow_array::{
    cast::AsArray, types::*, Array, ArrayRef, BooleanArray, RecordBatch, StructArray,
};
use arrow_schema::DataType;

use crate::error::{plan_err, PlanError, PlanResult};

/// One table of the plan: its name (for messages) and its columns.
pub struct Table<'a> {
    pub name: &'a str,
    columns: &'a StructArray,
}

/// Calls `f` with the named table of a packed plan batch.
pub fn with_table<T>(
    batch: &RecordBatch,
    name: &str,
    f: impl FnOnce(Table<'_>) -> PlanResult<T>,
) -> PlanResult<T> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| plan_err!("plan has no table '{}'", name).table(name))?;
    if col.is_empty() || col.is_null(0) {
        return Err(plan_err!("plan table '{}' is missing (null)", name).table(name));
    }
    let inner = match col.data_type() {
        DataType::List(_) => col.as_list::<i32>().value(0),
        DataType::LargeList(_) => col.as_list::<i64>().value(0),
        other => {
            return Err(plan_err!(
                "plan table '{}' must be list<struct>, found {}",
                name,
                other
            )
            .table(name))
        }
    };
    let structs = inner.as_struct_opt().ok_or_else(|| {
        plan_err!(
            "plan table '{}' must be a list of structs, found {}",
            name,
            inner.data_type()
        )
        .table(name)
    })?;
    f(Table::new(name, structs))
}

/// Whether the packed plan batch carries the (optional) table `name`.
pub fn has_table(batch: &RecordBatch, name: &str) -> bool {
    batch.column_by_name(name).is_some()
}

impl<'a> Table<'a> {
    pub fn new(name: &'a str, columns: &'a StructArray) -> Self {
        Self { name, columns }
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether the table has a column (for optional columns).
    pub fn has(&self, col: &str) -> bool {
        self.columns.column_by_name(col).is_some()
    }

    /// An optional column read by `read`, or `default` in every row when the table lacks it.
    pub fn optional<T: Clone>(
        &self,
        col: &str,
        default: T,
        read: impl FnOnce(&Self, &str) -> PlanResult<Vec<T>>,
    ) -> PlanResult<Vec<T>> {
        if self.has(col) {
            read(self, col)
        } else {
            Ok(vec![default; self.len()])
        }
    }

    /// `e` placed at row `row` of this table (a check of the row as a whole).
    pub fn in_row(&self, row: usize, e: PlanError) -> PlanError {
        e.table(self.name).row(row)
    }

    /// `e` placed at column `col`, row `row` of this table.
    pub fn in_cell(&self, col: &str, row: usize, e: PlanError) -> PlanError {
        e.table(self.name).column(col).row(row)
    }

    pub fn in_column(&self, col: &str, e: PlanError) -> PlanError {
        e.table(self.name).column(col)
    }

    fn column(&self, col: &str) -> PlanResult<&'a ArrayRef> {
        self.columns.column_by_name(col).ok_or_else(|| {
            self.in_column(
                col,
                plan_err!("table '{}' has no column '{}'", self.name, col),
            )
        })
    }

    fn null(&self, col: &str, row: usize) -> PlanError {
        self.in_cell(
            col,
            row,
            plan_err!("column '{}.{}' row {} is null", self.name, col, row),
        )
    }

    /// A numeric column as f64, nulls allowed (returned as `None`).
    pub fn f64_opt(&self, col: &str) -> PlanResult<Vec<Option<f64>>> {
        let arr = self.column(col)?;
        let n = arr.len();
        let get = |i: usize| -> Option<f64> {
            if arr.is_null(i) {
                return None;
            }
            Some(match arr.data_type() {
                DataType::Float64 => arr.as_primitive::<Float64Type>().value(i),
                DataType::Float32 => arr.as_primitive::<Float32Type>().value(i) as f64,
                DataType::Int64 => arr.as_primitive::<Int64Type>().value(i) as f64,
                DataType::Int32 => arr.as_primitive::<Int32Type>().value(i) as f64,
                DataType::Int16 => arr.as_primitive::<Int16Type>().value(i) as f64,
                DataType::Int8 => arr.as_primitive::<Int8Type>().value(i) as f64,
                DataType::UInt64 => arr.as_primitive::<UInt64Type>().value(i) as f64,
                DataType::UInt32 => arr.as_primitive::<UInt32Type>().value(i) as f64,
                DataType::UInt16 => arr.as_primitive::<UInt16Type>().value(i) as f64,
                DataType::UInt8 => arr.as_primitive::<UInt8Type>().value(i) as f64,
                _ => f64::NAN,
            })
        };
        if !arr.data_type().is_numeric() {
            return Err(self.in_column(
                col,
                plan_err!(
                    "column '{}.{}' must be numeric, found {}",
                    self.name,
                    col,
                    arr.data_type()
                ),
            ));
        }
        Ok((0..n).map(get).collect())
    }

    /// A numeric column as f64 with no nulls; NaN is rejected, infinities unless `allow_inf`.
    pub fn f64_checked(&self, col: &str, allow_inf: bool) -> PlanResult<Vec<f64>> {
        let vals = self.f64_opt(col)?;
        vals.into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                None => Err(self.null(col, i)),
                Some(x) if x.is_nan() => Err(self.in_cell(
                    col,
                    i,
                    plan_err!("column '{}.{}' row {} is NaN", self.name, col, i),
                )),
                Some(x) if x.is_infinite() && !allow_inf => Err(self.in_cell(
                    col,
                    i,
                    plan_err!("column '{}.{}' row {} is infinite", self.name, col, i),
                )),
                Some(x) => Ok(x),
            })
            .collect()
    }

    /// A finite, non-negative f64 column.
    pub fn nonneg(&self, col: &str) -> PlanResult<Vec<f64>> {
        let vals = self.f64_checked(col, false)?;
        if let Some((i, v)) = vals.iter().enumerate().find(|(_, v)| **v < 0.0) {
            return Err(self.in_cell(
                col,
                i,
                plan_err!(
                    "column '{}.{}' row {} is negative ({})",
                    self.name,
                    col,
                    i,
                    v
                ),
            ));
        }
        Ok(vals)
    }

    /// A finite, strictly positive f64 column.
    pub fn positive(&self, col: &str) -> PlanResult<Vec<f64>> {
        let vals = self.f64_checked(col, false)?;
        if let Some((i, v)) = vals.iter().enumerate().find(|(_, v)| **v <= 0.0) {
            return Err(self.in_cell(
                col,
                i,
                plan_err!(
                    "column '{}.{}' row {} must be > 0 (is {})",
                    self.name,
                    col,
                    i,
                    v
                ),
            ));
        }
        Ok(vals)
    }

    /// A whole-number column within `[min, max]`.
    pub fn int_in(&self, col: &str, min: u64, max: u64) -> PlanResult<Vec<u64>> {
        let vals = self.f64_checked(col, false)?;
        vals.into_iter()
            .enumerate()
            .map(|(i, v)| {
                if v.fract() != 0.0 || v < min as f64 || v > max as f64 {
                    Err(self.in_cell(
                        col,
                        i,
                        plan_err!(
                            "column '{}.{}' row {} must be a whole number in [{}, {}] (is {})",
                            self.name,
                            col,
                            i,
                            min,
                            max,
                            v
                        ),
                    ))
                } else {
                    Ok(v as u64)
                }
            })
            .collect()
    }

    /// A non-negative integer column read exactly (no trip through f64), for values such as seeds that may
    /// exceed 2^53. Float columns are accepted when they hold whole numbers.
    pub fn u64_exact(&self, col: &str) -> PlanResult<Vec<u64>> {
        let arr = self.column(col)?;
        let bad = |i: usize| {
            self.in_cell(
                col,
                i,
                plan_err!(
                    "column '{}.{}' row {} must be a whole number >= 0",
                    self.name,
                    col,
                    i
                ),
            )
        };
        match arr.data_type() {
            DataType::UInt64 => {
                let a = arr.as_primitive::<UInt64Type>();
                (0..a.len())
                    .map(|i| {
                        if a.is_null(i) {
                            Err(self.null(col, i))
                        } else {
                            Ok(a.value(i))
                        }
                    })
                    .collect()
            }
            DataType::Int64 => {
                let a = arr.as_primitive::<Int64Type>();
                (0..a.len())
                    .map(|i| {
                        if a.is_null(i) {
                            Err(self.null(col, i))
                        } else {
                            u64::try_from(a.value(i)).map_err(|_| bad(i))
                        }
                    })
                    .collect()
            }
            _ => self.int_in(col, 0, u64::MAX),
        }
    }

    /// An index column referring to rows of a table with `target_len` rows.
    pub fn index(&self, col: &str, target: &str, target_len: usize) -> PlanResult<Vec<usize>> {
        let vals = self.f64_checked(col, false)?;
        vals.into_iter()
            .enumerate()
            .map(|(i, v)| self.row_ref(col, target, target_len, i, v))
            .collect()
    }

    /// A nullable row-reference column (an optional link such as `requests.class`): `None` where null.
    pub fn index_opt(
        &self,
        col: &str,
        target: &str,
        target_len: usize,
    ) -> PlanResult<Vec<Option<usize>>> {
        let vals = self.f64_opt(col)?;
        vals.into_iter()
            .enumerate()
            .map(|(i, v)| {
                v.map(|v| self.row_ref(col, target, target_len, i, v))
                    .transpose()
            })
            .collect()
    }

    /// Row `i`'s value `v` of `col` as a row of `target` (of `target_len` rows), or the error naming it.
    fn row_ref(
        &self,
        col: &str,
        target: &str,
        target_len: usize,
        i: usize,
        v: f64,
    ) -> PlanResult<usize> {
        if v.fract() != 0.0 || v < 0.0 || v >= target_len as f64 {
            return Err(self.in_cell(
                col,
                i,
                plan_err!(
                    "column '{}.{}' row {} refers to {} row {} which does not exist ({} rows)",
                    self.name,
                    col,
                    i,
                    target,
                    v,
                    target_len
                ),
            ));
        }
        Ok(v as usize)
    }

    /// A string column with no nulls.
    pub fn strings(&self, col: &str) -> PlanResult<Vec<String>> {
        let arr = self.column(col)?;
        let get_all = |f: &dyn Fn(usize) -> String| -> PlanResult<Vec<String>> {
            (0..arr.len())
                .map(|i| {
                    if arr.is_null(i) {
                        Err(self.null(col, i))
                    } else {
                        Ok(f(i))
                    }
                })
                .collect()
        };
        match arr.data_type() {
            DataType::Utf8 => {
                let a = arr.as_string::<i32>();
                get_all(&|i| a.value(i).to_string())
            }
            DataType::LargeUtf8 => {
                let a = arr.as_string::<i64>();
                get_all(&|i| a.value(i).to_string())
            }
            DataType::Utf8View => {
                let a = arr.as_string_view();
                get_all(&|i| a.value(i).to_string())
            }
            other => Err(self.in_column(
                col,
                plan_err!(
                    "column '{}.{}' must be a string, found {}",
                    self.name,
                    col,
                    other
                ),
            )),
        }
    }

    /// A string column whose values must come from `allowed`.
    pub fn choice(&self, col: &str, allowed: &[&str]) -> PlanResult<Vec<String>> {
        let vals = self.strings(col)?;
        if let Some((i, v)) = vals
            .iter()
            .enumerate()
            .find(|(_, v)| !allowed.contains(&v.as_str()))
        {
            return Err(self.in_cell(
                col,
                i,
                plan_err!(
                    "column '{}.{}' row {} is '{}', expected one of {:?}",
                    self.name,
                    col,
                    i,
                    v,
                    allowed
                ),
            ));
        }
        Ok(vals)
    }

    /// A string column of names, each read by `parse` (a plan enum's parser); a name it rejects is reported
    /// at its row, with the parser's reason.
    pub fn parsed<T>(
        &self,
        col: &str,
        parse: impl Fn(&str) -> PlanResult<T>,
    ) -> PlanResult<Vec<T>> {
        let vals = self.strings(col)?;
        vals.iter()
            .enumerate()
            .map(|(i, v)| {
                parse(v).map_err(|e| {
                    self.in_cell(
                        col,
                        i,
                        plan_err!("column '{}.{}' row {}: {}", self.name, col, i, e.reason),
                    )
                })
            })
            .collect()
    }

    /// A boolean column with no nulls.
    pub fn bools(&self, col: &str) -> PlanResult<Vec<bool>> {
        let arr = self.column(col)?;
        let a: &BooleanArray = arr.as_boolean_opt().ok_or_else(|| {
            self.in_column(
                col,
                plan_err!(
                    "column '{}.{}' must be boolean, found {}",
                    self.name,
                    col,
                    arr.data_type()
                ),
            )
        })?;
        (0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    Err(self.null(col, i))
                } else {
                    Ok(a.value(i))
                }
            })
            .collect()
    }
    /// A list column of whole numbers in `[0, max]`, in CSR form: row `i`'s values are
    /// `values[offsets[i]..offsets[i + 1]]`. A null row is an empty list; a null element is an error.
    pub fn u64_lists(&self, col: &str, max: u64) -> PlanResult<(Vec<usize>, Vec<u64>)> {
        let arr = self.column(col)?;
        let (offsets, inner): (Vec<usize>, &ArrayRef) = match arr.data_type() {
            DataType::List(_) => {
                let l = arr.as_list::<i32>();
                (
                    l.offsets().iter().map(|&x| x as usize).collect(),
                    l.values(),
                )
            }
            DataType::LargeList(_) => {
                let l = arr.as_list::<i64>();
                (
                    l.offsets().iter().map(|&x| x as usize).collect(),
                    l.values(),
                )
            }
            other => {
                return Err(self.in_column(
                    col,
                    plan_err!(
                        "column '{}.{}' must be a list of whole numbers, found {}",
                        self.name,
                        col,
                        other
                    ),
                ))
            }
        };
        let start = offsets[0];
        let row_of = |k: usize| offsets.partition_point(|&o| o <= k).saturating_sub(1);
        let bad = |k: usize, what: &str| {
            let row = row_of(k);
            self.in_cell(
                col,
                row,
                plan_err!(
                    "column '{}.{}' row {}: element {} {}",
                    self.name,
                    col,
                    row,
                    k - offsets[row],
                    what
                ),
            )
        };
        let end = *offsets.last().unwrap_or(&start);
        let mut values = Vec::with_capacity(end - start);
        macro_rules! read {
            ($t:ty, $conv:expr) => {{
                let a = inner.as_primitive::<$t>();
                for k in start..end {
                    if a.is_null(k) {
                        return Err(bad(k, "is null"));
                    }
                    let v: Option<u64> = $conv(a.value(k));
                    match v {
                        Some(v) if v <= max => values.push(v),
                        _ => return Err(bad(k, &format!("must be a whole number in [0, {max}]"))),
                    }
                }
            }};
        }
        match inner.data_type() {
            DataType::UInt64 => read!(UInt64Type, |x: u64| Some(x)),
            DataType::UInt32 => read!(UInt32Type, |x: u32| Some(x as u64)),
            DataType::UInt16 => read!(UInt16Type, |x: u16| Some(x as u64)),
            DataType::Int64 => read!(Int64Type, |x: i64| u64::try_from(x).ok()),
            DataType::Int32 => read!(Int32Type, |x: i32| u64::try_from(x).ok()),
            other => {
                return Err(self.in_column(
                    col,
                    plan_err!(
                        "column '{}.{}' must be a list of unsigned integers, found list<{}>",
                        self.name,
                        col,
                        other
                    ),
                ))
            }
        }
        Ok((offsets.iter().map(|&o| o - start).collect(), values))
    }

    /// A `list<integer>` column of row indices below 2^32, in the CSR form of [`Table::u64_lists`].
    pub fn u32_lists(&self, col: &str) -> PlanResult<(Vec<usize>, Vec<u32>)> {
        let (offsets, values) = self.u64_lists(col, u32::MAX as u64)?;
        Ok((offsets, values.into_iter().map(|v| v as u32).collect()))
    }
}
