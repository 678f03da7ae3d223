//! The properties: malformed and extreme plans never panic or hang, every base plan simulates, and the
//! fuzzer reaches both the decoder and the engine.

use arrow_array::RecordBatch;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

use super::base::{base_strategy, base_tables};
use super::cases::{case_batch, run_case, silence_panics, Outcome};
use super::draft::Draft;
use super::mutations::mutation_strategy;
use super::tweaks::tweak_strategy;

/// Cases per fuzz property in CI when `PROPTEST_CASES` is not set (about 10 s for both in a debug build).
const DEFAULT_CASES: u32 = 4000;

/// Cases of the base-plan check (there are only a few dozen distinct base plans).
const BASE_CASES: u32 = 64;

fn config(default_cases: u32) -> Config {
    // `Config::default()` reads PROPTEST_CASES; only fall back to our count when it is not set.
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        Config::default().cases
    } else {
        default_cases
    };
    // No regression files: a failure prints its case (base, tweaks, mutations), which is the reproducer.
    Config {
        cases,
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(DEFAULT_CASES))]

    /// Any malformation of a valid plan is decoded to `Ok` or `Err` and (if small) simulated without a
    /// panic or a hang.
    #[test]
    fn malformed_plans_never_panic(base in base_strategy(), mutations in prop::collection::vec(mutation_strategy(), 1..4)) {
        silence_panics();
        let mut draft = Draft::new(base_tables(&base));
        for m in &mutations {
            draft.apply(m);
        }
        let Some(batch) = draft.batch() else { return Ok(()) };
        if let Err(problem) = run_case(&batch) {
            prop_assert!(false, "{problem}\nbase: {base:?}\nmutations: {mutations:#?}");
        }
    }

    /// Typed changes to the rows (extreme shapes, budgets, arrivals, speeds), then possibly a malformation:
    /// decoding and simulating never panic or hang.
    #[test]
    fn extreme_plans_never_panic(
        base in base_strategy(),
        tweaks in prop::collection::vec(tweak_strategy(), 1..5),
        mutations in prop::collection::vec(mutation_strategy(), 0..2),
    ) {
        silence_panics();
        let batch = case_batch(&base, &tweaks, &mutations);
        let Some(batch) = batch else { return Ok(()) };
        if let Err(problem) = run_case(&batch) {
            prop_assert!(false, "{problem}\nbase: {base:?}\ntweaks: {tweaks:#?}\nmutations: {mutations:#?}");
        }
    }

}

proptest! {
    #![proptest_config(config(BASE_CASES))]

    /// Every base plan is valid and simulates.
    #[test]
    fn base_plans_simulate(base in base_strategy()) {
        silence_panics();
        let batch = Draft::new(base_tables(&base)).batch().expect("a base plan packs");
        match run_case(&batch) {
            Ok(Outcome::Simulated) => {}
            other => prop_assert!(false, "base plan {base:?} did not simulate: {other:?}"),
        }
    }
}

/// Outcome counts of `n` cases drawn from `strategy` and turned into batches by `make`: (packed, rejected,
/// simulated, too large).
fn tally<S: Strategy>(
    n: usize,
    strategy: S,
    make: impl Fn(&S::Value) -> Option<RecordBatch>,
) -> [usize; 4]
where
    S::Value: std::fmt::Debug,
{
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut counts = [0; 4];
    for _ in 0..n {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        let Some(batch) = make(&case) else { continue };
        counts[0] += 1;
        match run_case(&batch) {
            Ok(Outcome::Rejected(_)) => counts[1] += 1,
            Ok(Outcome::Simulated) | Ok(Outcome::SimulationFailed(_)) => counts[2] += 1,
            Ok(Outcome::TooLargeToSimulate) => counts[3] += 1,
            Err(problem) => panic!("{problem}\ncase: {case:#?}"),
        }
    }
    if std::env::var_os("INFERA_FUZZ_VERBOSE").is_some() {
        eprintln!("of {n} cases: {counts:?} (packed, rejected, simulated, too large)");
    }
    counts
}

/// A guard against a fuzzer that silently stops exercising the core: malformations must mostly be
/// rejected, and a fair share of cases of both properties must get as far as a simulation.
#[test]
fn the_fuzzer_reaches_both_decoding_and_simulation() {
    silence_panics();
    let malformed = (
        base_strategy(),
        prop::collection::vec(mutation_strategy(), 1..4),
    );
    let [packed, rejected, simulated, _] = tally(300, malformed, |(base, mutations)| {
        case_batch(base, &[], mutations)
    });
    assert!(
        packed >= 250,
        "only {packed} of 300 malformed cases packed into a batch"
    );
    assert!(
        rejected >= 100,
        "only {rejected} of {packed} malformed plans were rejected"
    );
    assert!(
        simulated >= 20,
        "only {simulated} of {packed} malformed plans got as far as a simulation"
    );

    let extreme = (
        base_strategy(),
        prop::collection::vec(tweak_strategy(), 1..5),
    );
    let [packed, rejected, simulated, _] =
        tally(300, extreme, |(base, tweaks)| case_batch(base, tweaks, &[]));
    assert!(
        packed >= 290,
        "only {packed} of 300 extreme cases packed into a batch"
    );
    assert!(
        rejected >= 30,
        "only {rejected} of {packed} extreme plans were rejected"
    );
    assert!(
        simulated >= 60,
        "only {simulated} of {packed} extreme plans got as far as a simulation"
    );
}
