//! Decoding a plan batch: its metadata, its one row, each table's presence and shape, each column's presence,
//! type and nulls; older writers' columns.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::OffsetBufferBuilder;
use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, Int32Array, Int64Array, ListArray, RecordBatch, StringArray, StructArray,
    UInt32Array,
};
use arrow_schema::{DataType, Field, Fields, Schema};

use infera_core::builder::{self, tiny_dense_plan};
use infera_core::{simulate, Plan, SimOptions};

use crate::common::{f64_array, rejects, str_array, tweaked, u32_array};

/// `tiny_dense_plan(3)` with table `table` replaced by `f(table)`.
fn with_table(table: &str, f: impl FnOnce(StructArray) -> StructArray) -> RecordBatch {
    let mut f = Some(f);
    let tables = tiny_dense_plan(3)
        .tables()
        .into_iter()
        .map(|(n, t)| {
            if n == table {
                (n, (f.take().unwrap())(t))
            } else {
                (n, t)
            }
        })
        .collect();
    builder::pack(tables).unwrap()
}

/// A struct array with column `col` dropped, or replaced when `with` is given.
fn set_column(t: StructArray, col: &str, with: Option<ArrayRef>) -> StructArray {
    let (fields, arrays, nulls) = t.into_parts();
    let mut f2 = Vec::new();
    let mut a2 = Vec::new();
    for (f, a) in fields.iter().zip(arrays) {
        if f.name() == col {
            if let Some(w) = &with {
                f2.push(Field::new(col, w.data_type().clone(), true));
                a2.push(w.clone());
            }
        } else {
            f2.push(f.as_ref().clone());
            a2.push(a);
        }
    }
    StructArray::new(Fields::from(f2), a2, nulls)
}

/// The batch with its plan-level columns changed: `f` maps the (name, column) pairs.
fn with_columns(
    batch: &RecordBatch,
    f: impl FnOnce(Vec<(String, ArrayRef)>) -> Vec<(String, ArrayRef)>,
) -> RecordBatch {
    let cols: Vec<(String, ArrayRef)> = batch
        .schema()
        .fields()
        .iter()
        .map(|x| x.name().clone())
        .zip(batch.columns().iter().cloned())
        .collect();
    let cols = f(cols);
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    let schema = Schema::new_with_metadata(fields, batch.schema().metadata().clone());
    RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|(_, a)| a).collect()).unwrap()
}

#[test]
fn rejects_missing_or_wrong_metadata() {
    let batch = tiny_dense_plan(3).build();
    let with_metadata = |md: HashMap<String, String>| {
        let schema = Schema::new_with_metadata(batch.schema().fields().clone(), md);
        RecordBatch::try_new(Arc::new(schema), batch.columns().to_vec()).unwrap()
    };
    rejects(&with_metadata(HashMap::new()), &["infera.plan_version"]);
    let other_key = HashMap::from([("plan_version".to_string(), "1".to_string())]);
    rejects(&with_metadata(other_key), &["infera.plan_version"]);
    let v2 = HashMap::from([("infera.plan_version".to_string(), "2".to_string())]);
    rejects(&with_metadata(v2), &["version 2", "not supported"]);
}

#[test]
fn rejects_more_than_one_row() {
    let batch = tiny_dense_plan(3).build();
    let two = with_columns(&batch, |cols| {
        cols.into_iter()
            .map(|(n, a)| {
                let list = a.as_list::<i32>();
                let values = list.values().clone();
                let mut offsets = OffsetBufferBuilder::<i32>::new(2);
                offsets.push_length(values.len());
                offsets.push_length(0);
                let DataType::List(item) = list.data_type().clone() else {
                    unreachable!()
                };
                (
                    n,
                    Arc::new(ListArray::try_new(item, offsets.finish(), values, None).unwrap())
                        as ArrayRef,
                )
            })
            .collect()
    });
    assert_eq!(two.num_rows(), 2);
    rejects(&two, &["exactly one row", "2"]);
}

#[test]
fn rejects_a_missing_table() {
    for table in [
        "chips",
        "engines",
        "models",
        "operators",
        "workloads",
        "requests",
        "runs",
        "pools",
        "slos",
    ] {
        let batch = tiny_dense_plan(3).build();
        let without = with_columns(&batch, |cols| {
            cols.into_iter().filter(|(n, _)| n != table).collect()
        });
        rejects(&without, &["no table", table]);
    }
}

#[test]
fn rejects_a_null_table_or_a_table_of_the_wrong_shape() {
    let batch = tiny_dense_plan(3).build();
    let null_slos = with_columns(&batch, |cols| {
        cols.into_iter()
            .map(|(n, a)| {
                if n == "slos" {
                    let DataType::List(item) = a.data_type().clone() else {
                        unreachable!()
                    };
                    (n, Arc::new(ListArray::new_null(item, 1)) as ArrayRef)
                } else {
                    (n, a)
                }
            })
            .collect()
    });
    rejects(&null_slos, &["'slos'", "missing"]);

    let not_a_list = with_columns(&batch, |cols| {
        cols.into_iter()
            .map(|(n, a)| {
                if n == "chips" {
                    (n, Arc::new(Int32Array::from(vec![1])) as ArrayRef)
                } else {
                    (n, a)
                }
            })
            .collect()
    });
    rejects(&not_a_list, &["'chips'", "list<struct>"]);

    let list_of_ints = with_columns(&batch, |cols| {
        cols.into_iter()
            .map(|(n, a)| {
                if n == "models" {
                    let item = Arc::new(Field::new("item", DataType::Int32, true));
                    let mut offsets = OffsetBufferBuilder::<i32>::new(1);
                    offsets.push_length(2);
                    let values = Arc::new(Int32Array::from(vec![1, 2]));
                    (
                        n,
                        Arc::new(ListArray::try_new(item, offsets.finish(), values, None).unwrap())
                            as ArrayRef,
                    )
                } else {
                    (n, a)
                }
            })
            .collect()
    });
    rejects(&list_of_ints, &["'models'", "struct"]);
}

#[test]
fn rejects_a_missing_column() {
    let cases = [
        ("chips", "memory_bw"),
        ("chips", "name"),
        ("engines", "flops"),
        ("models", "kv_bytes_per_token"),
        ("operators", "tp_shard"),
        ("operators", "bytes_per_kv_token"),
        ("workloads", "duration_s"),
        ("requests", "output_tokens"),
        ("runs", "decode_router"),
        ("pools", "kv_blocks"),
        ("pools", "policy"),
        ("slos", "threshold_s"),
    ];
    for (table, col) in cases {
        let batch = with_table(table, |t| set_column(t, col, None));
        let msg = rejects(&batch, &[table, col]);
        assert!(msg.contains("has no column"), "{msg}");
    }
}

#[test]
fn rejects_a_column_of_the_wrong_type() {
    let batch = with_table("chips", |t| set_column(t, "name", Some(f64_array(&[1.0]))));
    rejects(&batch, &["chips.name", "string"]);

    let batch = with_table("pools", |t| {
        set_column(t, "chunked_prefill", Some(u32_array(&[1])))
    });
    rejects(&batch, &["pools.chunked_prefill", "boolean"]);

    let batch = with_table("engines", |t| {
        set_column(t, "flops", Some(str_array(&["1e14", "1e13"])))
    });
    rejects(&batch, &["engines.flops", "numeric"]);

    let batch = with_table("requests", |t| {
        set_column(t, "prompt_tokens", Some(str_array(&["a", "b", "c"])))
    });
    rejects(&batch, &["requests.prompt_tokens", "numeric"]);
}

#[test]
fn accepts_other_numeric_types_for_numeric_columns() {
    // pyarrow infers int64; any integer or float type is read.
    let batch = with_table("pools", |t| {
        set_column(t, "kv_blocks", Some(Arc::new(Int64Array::from(vec![1024]))))
    });
    assert_eq!(Plan::from_batch(&batch).unwrap().pools[0].kv_blocks, 1024);
    let batch = with_table("models", |t| {
        set_column(t, "layers", Some(f64_array(&[2.0])))
    });
    assert_eq!(Plan::from_batch(&batch).unwrap().models[0].layers, 2);
    let batch = with_table("models", |t| {
        set_column(t, "layers", Some(f64_array(&[2.5])))
    });
    rejects(&batch, &["models.layers", "whole number"]);
}

#[test]
fn rejects_nulls_in_required_columns() {
    let batch = with_table("requests", |t| {
        set_column(
            t,
            "prompt_tokens",
            Some(Arc::new(UInt32Array::from(vec![Some(5), None, Some(7)]))),
        )
    });
    rejects(&batch, &["requests.prompt_tokens", "row 1", "null"]);
    let batch = with_table("chips", |t| {
        set_column(
            t,
            "name",
            Some(Arc::new(StringArray::from(vec![None::<&str>]))),
        )
    });
    rejects(&batch, &["chips.name", "null"]);
}

#[test]
fn a_single_router_column_from_older_writers_sets_both_stages() {
    let batch = with_table("runs", |t| {
        let t = set_column(t, "decode_router", None);
        let t = set_column(t, "prefill_router", None);
        let (fields, mut arrays, nulls) = t.into_parts();
        let mut fields: Vec<Field> = fields.iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("router", DataType::Utf8, false));
        arrays.push(str_array(&["least_tokens"]));
        StructArray::new(Fields::from(fields), arrays, nulls)
    });
    let plan = Plan::from_batch(&batch).unwrap();
    let modern = Plan::from_batch(&tweaked(|b| {
        b.runs[0] = b.runs[0].clone().with_router("least_tokens")
    }))
    .unwrap();
    assert_eq!(
        format!("{:?}", plan.runs[0]),
        format!("{:?}", modern.runs[0])
    );
    let out = simulate(&plan, SimOptions::default()).unwrap();
    assert_eq!(
        out.requests,
        simulate(&modern, SimOptions::default()).unwrap().requests
    );
}
