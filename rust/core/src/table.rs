//! Typed, checked access to one plan table (an Arrow struct array).
//!
//! Plans come from outside the crate (Python, files, other services), so every read is checked: a missing
//! column, a wrong type, a null where a value is required, or a non-finite number becomes a
//! [`InferaError::Plan`] naming the table, the column and the row. Numeric columns accept any Arrow integer
//! or float type, because producers differ (pyarrow infers `int64`, other writers `uint32`).

use arrow_array::{cast::AsArray, types::*, Array, ArrayRef, BooleanArray, StructArray};
use arrow_schema::DataType;

use crate::error::{plan_err, Result};

/// One table of the plan: its name (for messages) and its columns.
pub struct Table<'a> {
    pub name: &'a str,
    columns: &'a StructArray,
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

    fn column(&self, col: &str) -> Result<&'a ArrayRef> {
        self.columns
            .column_by_name(col)
            .ok_or_else(|| plan_err!("table '{}' has no column '{}'", self.name, col))
    }

    /// A numeric column as f64, nulls allowed (returned as `None`).
    pub fn f64_opt(&self, col: &str) -> Result<Vec<Option<f64>>> {
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
            return Err(plan_err!(
                "column '{}.{}' must be numeric, found {}",
                self.name,
                col,
                arr.data_type()
            ));
        }
        Ok((0..n).map(get).collect())
    }

    /// A numeric column as f64 with no nulls; NaN is rejected unless `allow_nan`, infinities unless
    /// `allow_inf`.
    pub fn f64_checked(&self, col: &str, allow_inf: bool) -> Result<Vec<f64>> {
        let vals = self.f64_opt(col)?;
        vals.into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                None => Err(plan_err!(
                    "column '{}.{}' row {} is null",
                    self.name,
                    col,
                    i
                )),
                Some(x) if x.is_nan() => {
                    Err(plan_err!("column '{}.{}' row {} is NaN", self.name, col, i))
                }
                Some(x) if x.is_infinite() && !allow_inf => Err(plan_err!(
                    "column '{}.{}' row {} is infinite",
                    self.name,
                    col,
                    i
                )),
                Some(x) => Ok(x),
            })
            .collect()
    }

    /// A finite, non-negative f64 column.
    pub fn nonneg(&self, col: &str) -> Result<Vec<f64>> {
        let vals = self.f64_checked(col, false)?;
        if let Some((i, v)) = vals.iter().enumerate().find(|(_, v)| **v < 0.0) {
            return Err(plan_err!(
                "column '{}.{}' row {} is negative ({})",
                self.name,
                col,
                i,
                v
            ));
        }
        Ok(vals)
    }

    /// A finite, strictly positive f64 column.
    pub fn positive(&self, col: &str) -> Result<Vec<f64>> {
        let vals = self.f64_checked(col, false)?;
        if let Some((i, v)) = vals.iter().enumerate().find(|(_, v)| **v <= 0.0) {
            return Err(plan_err!(
                "column '{}.{}' row {} must be > 0 (is {})",
                self.name,
                col,
                i,
                v
            ));
        }
        Ok(vals)
    }

    /// A whole-number column within `[min, max]`.
    pub fn int_in(&self, col: &str, min: u64, max: u64) -> Result<Vec<u64>> {
        let vals = self.f64_checked(col, false)?;
        vals.into_iter()
            .enumerate()
            .map(|(i, v)| {
                if v.fract() != 0.0 || v < min as f64 || v > max as f64 {
                    Err(plan_err!(
                        "column '{}.{}' row {} must be a whole number in [{}, {}] (is {})",
                        self.name,
                        col,
                        i,
                        min,
                        max,
                        v
                    ))
                } else {
                    Ok(v as u64)
                }
            })
            .collect()
    }

    /// A non-negative integer column read exactly (no trip through f64), for values such as seeds that may
    /// exceed 2^53. Float columns are accepted when they hold whole numbers.
    pub fn u64_exact(&self, col: &str) -> Result<Vec<u64>> {
        let arr = self.column(col)?;
        let bad = |i: usize| {
            plan_err!(
                "column '{}.{}' row {} must be a whole number >= 0",
                self.name,
                col,
                i
            )
        };
        let null = |i: usize| plan_err!("column '{}.{}' row {} is null", self.name, col, i);
        match arr.data_type() {
            DataType::UInt64 => {
                let a = arr.as_primitive::<UInt64Type>();
                (0..a.len())
                    .map(|i| {
                        if a.is_null(i) {
                            Err(null(i))
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
                            Err(null(i))
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
    pub fn index(&self, col: &str, target: &str, target_len: usize) -> Result<Vec<usize>> {
        let vals = self.f64_checked(col, false)?;
        vals.into_iter()
            .enumerate()
            .map(|(i, v)| {
                if v.fract() != 0.0 || v < 0.0 || v >= target_len as f64 {
                    Err(plan_err!(
                        "column '{}.{}' row {} refers to {} row {} which does not exist ({} rows)",
                        self.name,
                        col,
                        i,
                        target,
                        v,
                        target_len
                    ))
                } else {
                    Ok(v as usize)
                }
            })
            .collect()
    }

    /// A string column with no nulls.
    pub fn strings(&self, col: &str) -> Result<Vec<String>> {
        let arr = self.column(col)?;
        let get_all = |f: &dyn Fn(usize) -> String| -> Result<Vec<String>> {
            (0..arr.len())
                .map(|i| {
                    if arr.is_null(i) {
                        Err(plan_err!(
                            "column '{}.{}' row {} is null",
                            self.name,
                            col,
                            i
                        ))
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
            other => Err(plan_err!(
                "column '{}.{}' must be a string, found {}",
                self.name,
                col,
                other
            )),
        }
    }

    /// A string column whose values must come from `allowed`.
    pub fn choice(&self, col: &str, allowed: &[&str]) -> Result<Vec<String>> {
        let vals = self.strings(col)?;
        if let Some((i, v)) = vals
            .iter()
            .enumerate()
            .find(|(_, v)| !allowed.contains(&v.as_str()))
        {
            return Err(plan_err!(
                "column '{}.{}' row {} is '{}', expected one of {:?}",
                self.name,
                col,
                i,
                v,
                allowed
            ));
        }
        Ok(vals)
    }

    /// A boolean column with no nulls.
    pub fn bools(&self, col: &str) -> Result<Vec<bool>> {
        let arr = self.column(col)?;
        let a: &BooleanArray = arr.as_boolean_opt().ok_or_else(|| {
            plan_err!(
                "column '{}.{}' must be boolean, found {}",
                self.name,
                col,
                arr.data_type()
            )
        })?;
        (0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    Err(plan_err!(
                        "column '{}.{}' row {} is null",
                        self.name,
                        col,
                        i
                    ))
                } else {
                    Ok(a.value(i))
                }
            })
            .collect()
    }
}
