//! Malformations: what a case may do to a valid plan's tables, columns, values, packing and metadata, and
//! the Arrow columns it writes.

use std::sync::Arc;

use arrow_array::builder::OffsetBufferBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    Float32Array, Float64Array, Int32Array, Int64Array, Int8Array, LargeStringArray, ListArray,
    NullArray, StringArray, StringViewArray, StructArray, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_schema::{DataType, Field};
use proptest::prelude::*;

/// Numbers written into numeric columns.
const NUMBERS: [f64; 22] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -1.0,
    -0.0,
    0.0,
    0.5,
    1.0,
    2.0,
    3.0,
    7.0,
    1e-300,
    1e300,
    f64::MAX,
    u32::MAX as f64,
    u32::MAX as f64 + 1.0,
    u64::MAX as f64,
    9_007_199_254_740_993.0, // 2^53 + 1 (rounds to 2^53)
    1e9,
    100_000_000.0,
    65_536.0,
    -2_147_483_648.0,
];

/// Strings written into string columns: the plan's choices, near misses, routes, odd text.
const STRINGS: [&str; 30] = [
    "",
    "tensor",
    "vector",
    "optical",
    "collective",
    "alltoall",
    "p2p",
    "bf16",
    "fp8",
    "int4",
    "fp4",
    "open",
    "closed",
    "mixed",
    "prefill",
    "decode",
    "round_robin",
    "least_tokens",
    "power_of_two",
    "random",
    "decode_first",
    "prefill_first",
    "ttft",
    "e2e",
    "tokens",
    "tensor,vector",
    ",,",
    "hbm",
    "tiny-chip\0\u{1F600}",
    "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
];

/// Names of columns added to a table: the optional columns the core knows, the required ones (so a table
/// gets a duplicate), and a stranger.
const EXTRA_COLUMNS: [&str; 27] = [
    "matmul_engine",
    "attention_engine",
    "name",
    "energy_per_flop",
    "conversion_bw",
    "conversion_energy_per_byte",
    "experts",
    "experts_per_token",
    "keep_requests",
    "keep_iterations",
    "keep_token_stats",
    "router",
    "role",
    "max_queue",
    "queue_timeout_s",
    "pp",
    "ep",
    "microbatches",
    "node_size",
    "network_bw",
    "network_latency_s",
    "weights_memory",
    "kv_memory",
    "chip",
    "run",
    "kv_blocks",
    "zzz_unknown",
];

/// Names of tables added to a plan.
const EXTRA_TABLES: [&str; 5] = ["memories", "profiles", "links", "chips", "zzz_unknown"];

/// Arrow types a column is replaced with (or an added column is made of).
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Utf8,
    LargeUtf8,
    Utf8View,
    Binary,
    Bool,
    Int8,
    Int32,
    Int64,
    UInt8,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Decimal,
    Date,
    Null,
    Dictionary,
    ListOfF64,
    EmptyStruct,
}

const KINDS: [Kind; 19] = [
    Kind::Utf8,
    Kind::LargeUtf8,
    Kind::Utf8View,
    Kind::Binary,
    Kind::Bool,
    Kind::Int8,
    Kind::Int32,
    Kind::Int64,
    Kind::UInt8,
    Kind::UInt32,
    Kind::UInt64,
    Kind::Float32,
    Kind::Float64,
    Kind::Decimal,
    Kind::Date,
    Kind::Null,
    Kind::Dictionary,
    Kind::ListOfF64,
    Kind::EmptyStruct,
];

/// How a table is packed into its plan column.
#[derive(Debug, Clone, Copy)]
pub enum Packing {
    /// `large_list<struct>` (accepted).
    LargeList,
    /// A null list element.
    NullElement,
    /// An `int32` column, not a list.
    NotAList,
    /// A list of `int32`, not of structs.
    ListOfInts,
    /// `fixed_size_list<struct>`.
    FixedSizeList,
    /// A list of structs whose struct rows are all null (the child columns still hold values).
    NullStructRows,
}

const PACKINGS: [Packing; 6] = [
    Packing::LargeList,
    Packing::NullElement,
    Packing::NotAList,
    Packing::ListOfInts,
    Packing::FixedSizeList,
    Packing::NullStructRows,
];

#[derive(Debug, Clone)]
pub enum Meta {
    Missing,
    Version(&'static str),
    ExtraKey,
}

/// One malformation. Table, column and row numbers are reduced modulo what exists when it is applied.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Writes a number into a numeric column (in the column's type when it holds the number, else as f64).
    SetNumber {
        table: usize,
        col: usize,
        row: usize,
        value: f64,
    },
    /// Sets an index-like (integer) column to the row count of the table plus `past` (dangling).
    Dangle {
        table: usize,
        col: usize,
        row: usize,
        past: u32,
    },
    SetString {
        table: usize,
        col: usize,
        row: usize,
        value: &'static str,
    },
    DropColumn {
        table: usize,
        col: usize,
    },
    AddColumn {
        table: usize,
        name: &'static str,
        kind: Kind,
        value: f64,
    },
    Retype {
        table: usize,
        col: usize,
        kind: Kind,
        value: f64,
    },
    /// Makes one value of a column null.
    Null {
        table: usize,
        col: usize,
        row: usize,
    },
    /// Keeps the table's columns but no rows.
    EmptyTable {
        table: usize,
    },
    /// A struct with rows but no columns.
    NoColumns {
        table: usize,
    },
    /// Every row twice.
    DuplicateRows {
        table: usize,
    },
    /// Keeps only the first `keep` rows.
    Truncate {
        table: usize,
        keep: usize,
    },
    DropTable {
        table: usize,
    },
    AddTable {
        name: &'static str,
        rows: usize,
        kind: Kind,
        value: f64,
    },
    DuplicateTable {
        table: usize,
    },
    Pack {
        table: usize,
        how: Packing,
    },
    Metadata(Meta),
    /// The packed batch has this many rows (0 or 2) instead of 1.
    Rows(usize),
}

pub fn mutation_strategy() -> impl Strategy<Value = Mutation> {
    let t = 0usize..16;
    let c = 0usize..32;
    let r = 0usize..8;
    let number = prop_oneof![
        4 => proptest::sample::select(NUMBERS.to_vec()),
        1 => any::<f64>(),
        1 => any::<u32>().prop_map(f64::from),
        1 => any::<i64>().prop_map(|x| x as f64),
    ];
    let kind = proptest::sample::select(KINDS.to_vec());
    prop_oneof![
        8 => (t.clone(), c.clone(), r.clone(), number.clone())
            .prop_map(|(table, col, row, value)| Mutation::SetNumber { table, col, row, value }),
        3 => (t.clone(), c.clone(), r.clone(), prop_oneof![Just(0u32), Just(1), Just(7), Just(u32::MAX - 1)])
            .prop_map(|(table, col, row, past)| Mutation::Dangle { table, col, row, past }),
        4 => (t.clone(), c.clone(), r.clone(), proptest::sample::select(STRINGS.to_vec()))
            .prop_map(|(table, col, row, value)| Mutation::SetString { table, col, row, value }),
        3 => (t.clone(), c.clone()).prop_map(|(table, col)| Mutation::DropColumn { table, col }),
        3 => (t.clone(), proptest::sample::select(EXTRA_COLUMNS.to_vec()), kind.clone(), number.clone())
            .prop_map(|(table, name, kind, value)| Mutation::AddColumn { table, name, kind, value }),
        3 => (t.clone(), c.clone(), kind.clone(), number.clone())
            .prop_map(|(table, col, kind, value)| Mutation::Retype { table, col, kind, value }),
        2 => (t.clone(), c.clone(), r.clone()).prop_map(|(table, col, row)| Mutation::Null { table, col, row }),
        1 => t.clone().prop_map(|table| Mutation::EmptyTable { table }),
        1 => t.clone().prop_map(|table| Mutation::NoColumns { table }),
        1 => t.clone().prop_map(|table| Mutation::DuplicateRows { table }),
        1 => (t.clone(), 0usize..4).prop_map(|(table, keep)| Mutation::Truncate { table, keep }),
        1 => t.clone().prop_map(|table| Mutation::DropTable { table }),
        1 => (proptest::sample::select(EXTRA_TABLES.to_vec()), 0usize..3, kind, number)
            .prop_map(|(name, rows, kind, value)| Mutation::AddTable { name, rows, kind, value }),
        1 => t.clone().prop_map(|table| Mutation::DuplicateTable { table }),
        2 => (t, proptest::sample::select(PACKINGS.to_vec())).prop_map(|(table, how)| Mutation::Pack { table, how }),
        1 => prop_oneof![
            Just(Meta::Missing),
            Just(Meta::Version("2")),
            Just(Meta::Version("")),
            Just(Meta::Version(" 1")),
            Just(Meta::ExtraKey),
        ]
        .prop_map(Mutation::Metadata),
        1 => prop_oneof![Just(0usize), Just(2)].prop_map(Mutation::Rows),
    ]
}

/// An array of `n` values of `kind`, each derived from `value` (rows alternate with a second value so that
/// not every row is the same).
pub fn array_of(kind: Kind, n: usize, value: f64) -> ArrayRef {
    let v = |i: usize| if i.is_multiple_of(2) { value } else { 1.0 };
    match kind {
        Kind::Utf8 => Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("{}", v(i))),
        )),
        Kind::LargeUtf8 => Arc::new(LargeStringArray::from_iter_values(
            (0..n).map(|i| format!("{}", v(i))),
        )),
        Kind::Utf8View => Arc::new(StringViewArray::from_iter_values(
            (0..n).map(|i| format!("{}", v(i))),
        )),
        Kind::Binary => Arc::new(BinaryArray::from_iter_values(
            (0..n).map(|i| v(i).to_le_bytes()),
        )),
        Kind::Bool => Arc::new(BooleanArray::from(
            (0..n).map(|i| v(i) != 0.0).collect::<Vec<_>>(),
        )),
        Kind::Int8 => Arc::new(Int8Array::from_iter_values((0..n).map(|i| v(i) as i8))),
        Kind::Int32 => Arc::new(Int32Array::from_iter_values((0..n).map(|i| v(i) as i32))),
        Kind::Int64 => Arc::new(Int64Array::from_iter_values((0..n).map(|i| v(i) as i64))),
        Kind::UInt8 => Arc::new(UInt8Array::from_iter_values((0..n).map(|i| v(i) as u8))),
        Kind::UInt32 => Arc::new(UInt32Array::from_iter_values((0..n).map(|i| v(i) as u32))),
        Kind::UInt64 => Arc::new(UInt64Array::from_iter_values((0..n).map(|i| v(i) as u64))),
        Kind::Float32 => Arc::new(Float32Array::from_iter_values((0..n).map(|i| v(i) as f32))),
        Kind::Float64 => Arc::new(Float64Array::from_iter_values((0..n).map(v))),
        Kind::Decimal => Arc::new(Decimal128Array::from_iter_values(
            (0..n).map(|i| v(i) as i128),
        )),
        Kind::Date => Arc::new(Date32Array::from_iter_values((0..n).map(|i| v(i) as i32))),
        Kind::Null => Arc::new(NullArray::new(n)),
        Kind::Dictionary => {
            let d: DictionaryArray<Int32Type> = (0..n)
                .map(|i| if i % 2 == 0 { "tensor" } else { "bf16" })
                .collect();
            Arc::new(d)
        }
        Kind::ListOfF64 => {
            let mut offsets = OffsetBufferBuilder::<i32>::new(n);
            for _ in 0..n {
                offsets.push_length(1);
            }
            let values = Arc::new(Float64Array::from_iter_values((0..n).map(v)));
            Arc::new(ListArray::new(
                Arc::new(Field::new("item", DataType::Float64, true)),
                offsets.finish(),
                values,
                None,
            ))
        }
        Kind::EmptyStruct => Arc::new(StructArray::new_empty_fields(n, None)),
    }
}
