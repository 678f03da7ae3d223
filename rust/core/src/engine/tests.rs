//! Unit tests of the engine: the registries, their names and errors, and the quotes of `docs/extending.md`.

use super::{arrivals, registry::lookup, router, scheduler};
use crate::error::{InferaError, PlanError};

/// The engine files `docs/extending.md` may quote.
const SOURCES: [(&str, &str); 4] = [
    (
        "rust/core/src/engine/router/mod.rs",
        include_str!("router/mod.rs"),
    ),
    (
        "rust/core/src/engine/router/round_robin.rs",
        include_str!("router/round_robin.rs"),
    ),
    (
        "rust/core/src/engine/scheduler/mod.rs",
        include_str!("scheduler/mod.rs"),
    ),
    (
        "rust/core/src/engine/arrivals/mod.rs",
        include_str!("arrivals/mod.rs"),
    ),
];

const MARK: &str = "<!-- quoted from ";

#[test]
fn extending_md_quotes_the_engine_verbatim() {
    let page = include_str!("../../../../docs/extending.md");
    let mut quoted = Vec::new();
    for (at, _) in page.match_indices(MARK) {
        let rest = &page[at + MARK.len()..];
        let path = &rest[..rest.find(" -->").expect("a quote mark ends with -->")];
        let block = rest
            .split_once("```rust\n")
            .and_then(|(_, b)| b.split_once("```\n"))
            .map(|(b, _)| b)
            .unwrap_or_else(|| panic!("the quote of {path} is followed by a rust block"));
        let source = SOURCES
            .iter()
            .find(|(p, _)| *p == path)
            .unwrap_or_else(|| {
                panic!("docs/extending.md quotes {path}, which this test does not read")
            })
            .1;
        assert!(
            source.contains(block),
            "docs/extending.md quotes {path} as\n{block}\nbut the file differs"
        );
        quoted.push(path);
    }
    // The router example is shown whole, and every folder's trait is shown.
    let round_robin = include_str!("router/round_robin.rs");
    assert!(page.contains(&format!("```rust\n{round_robin}```\n")));
    for (path, _) in SOURCES.iter().filter(|(p, _)| p.ends_with("mod.rs")) {
        assert!(
            quoted.contains(path),
            "docs/extending.md does not quote {path}"
        );
    }
}

fn names<E>(registry: &[(&'static str, E)]) -> Vec<&'static str> {
    registry.iter().map(|(n, _)| *n).collect()
}

#[test]
fn names_are_the_registries_in_order() {
    assert_eq!(names(router::REGISTRY), router::NAMES);
    assert_eq!(
        router::NAMES,
        [
            "round_robin",
            "least_tokens",
            "power_of_two",
            "prefix_aware"
        ]
    );
    assert_eq!(names(scheduler::REGISTRY), scheduler::NAMES);
    assert_eq!(scheduler::NAMES, ["decode_first", "prefill_first"]);
    assert_eq!(names(arrivals::REGISTRY), arrivals::NAMES);
    assert_eq!(arrivals::NAMES, ["open", "closed"]);
}

#[test]
fn an_unknown_name_is_a_plan_error_where_it_was_read() {
    let err = lookup(scheduler::REGISTRY, "lifo", "pools", "policy", 3).err();
    let Some(InferaError::Plan(e)) = err else {
        panic!("expected a plan error, got {err:?}")
    };
    assert_eq!(
        e,
        PlanError::new(
            "column 'pools.policy' row 3 is 'lifo', expected one of [\"decode_first\", \"prefill_first\"]"
        )
        .table("pools")
        .column("policy")
        .row(3)
    );
}
