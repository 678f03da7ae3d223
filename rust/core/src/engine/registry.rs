//! How the engine's pluggable parts (routers, scheduling policies, arrival processes) are named: each kind
//! keeps a registry, one line per implementation, and a plan names implementations by their registry name.

/// Declares a registry: one module per implementation, named as plans name it. The module exports
/// `ENTRY` (the constructor the registry hands out); the registry and its `NAMES` follow from the list, so
/// adding an implementation is one new file plus its name here.
macro_rules! registry {
    ($entry:ty: $($name:ident),+ $(,)?) => {
        $(mod $name;)+

        /// Every implementation, by the name a plan gives it.
        pub const REGISTRY: &[(&str, $entry)] = &[$((stringify!($name), $name::ENTRY)),+];

        /// The names a plan may use, in registry order.
        pub const NAMES: &[&str] = &[$(stringify!($name)),+];
    };
}
pub(crate) use registry;

use crate::error::{plan_err, Result};

/// The entry registered as `name`; an unknown name is a plan error naming the table, column and row it
/// came from.
pub(crate) fn lookup<E: Copy>(
    registry: &[(&str, E)],
    name: &str,
    table: &str,
    col: &str,
    row: usize,
) -> Result<E> {
    match registry.iter().find(|(n, _)| *n == name) {
        Some((_, entry)) => Ok(*entry),
        None => Err(plan_err!(
            "column '{}.{}' row {} is '{}', expected one of {:?}",
            table,
            col,
            row,
            name,
            registry.iter().map(|(n, _)| *n).collect::<Vec<_>>()
        )
        .table(table)
        .column(col)
        .row(row)
        .into()),
    }
}
