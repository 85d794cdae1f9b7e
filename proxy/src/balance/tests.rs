use rand::{SeedableRng, rngs::StdRng};

use super::*;
use crate::{
    fixtures::{model, state},
    health::Ejection,
};

fn route(strategy: &str, backends: &[(&str, u32)], fallbacks: &[&str], attempts: u32) -> String {
    let backends: String = backends
        .iter()
        .map(|(name, weight)| format!("    - modelRef: {{name: {name}}}\n      weight: {weight}\n"))
        .collect();
    let fallbacks: String = fallbacks
        .iter()
        .map(|name| format!("    - {{name: {name}}}\n"))
        .collect();
    let fallbacks = if fallbacks.is_empty() {
        String::new()
    } else {
        format!("  fallbacks:\n{fallbacks}")
    };
    format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: AIRoute\nmetadata: {{name: r}}\nspec:\n  models: [m]\n  strategy: {strategy}\n  retry: {{attempts: {attempts}}}\n  backends:\n{backends}{fallbacks}"
    )
}

fn names(state: &State, plan: &[Candidate]) -> Vec<String> {
    plan.iter()
        .map(|c| {
            let name = &state.snapshot.model(c.model).unwrap().source.name;
            if c.fallback {
                format!("{name}*")
            } else {
                name.clone()
            }
        })
        .collect()
}

fn fixture(strategy: &str, backends: &[(&str, u32)], fallbacks: &[&str], attempts: u32) -> State {
    let mut yaml = String::new();
    for name in ["a", "b", "c", "f"] {
        yaml += &model(
            name,
            match name {
                "a" => "3",
                "b" => "1",
                _ => "2",
            },
        );
    }
    yaml += &route(strategy, backends, fallbacks, attempts);
    state(&yaml)
}

fn plan_of(state: &State, seed: u64) -> Vec<String> {
    let route = &state.snapshot.content.routes[0];
    let estimate = Estimate {
        input_tokens: 100,
        output_tokens: 100,
    };
    names(
        state,
        &plan(route, state, estimate, &mut StdRng::seed_from_u64(seed)),
    )
}

#[test]
fn retries_cycle_through_the_backends_and_fallbacks_come_last_in_order() {
    let state = fixture("lowest-cost", &[("a", 1), ("b", 1)], &["f", "c"], 6);
    assert_eq!(plan_of(&state, 1), ["b", "a", "b", "a", "f*", "c*"]);
}

#[test]
fn the_attempt_budget_counts_fallbacks_and_every_backend_gets_one_try_first() {
    let state = fixture("lowest-cost", &[("a", 1), ("b", 1)], &["f", "c"], 3);
    assert_eq!(plan_of(&state, 1), ["b", "a", "f*"]);
    let single = fixture("weighted", &[("a", 1)], &[], 3);
    assert_eq!(
        plan_of(&single, 1),
        ["a", "a", "a"],
        "a lone backend is retried"
    );
}

#[test]
fn weighted_order_follows_the_weights_and_never_picks_a_drained_backend() {
    let state = fixture("weighted", &[("a", 3), ("b", 1), ("c", 0)], &[], 1);
    let firsts: Vec<String> = (0..4000)
        .map(|seed| plan_of(&state, seed)[0].clone())
        .collect();
    let a = firsts.iter().filter(|name| *name == "a").count();
    assert!(
        !firsts.iter().any(|name| name == "c"),
        "weight 0 drains a backend"
    );
    assert!(
        (2700..3300).contains(&a),
        "a should be first about 3/4 of the time, was {a}/4000"
    );
}

#[test]
fn least_busy_prefers_the_backend_with_fewer_requests_in_flight() {
    let state = fixture("least-busy", &[("a", 1), ("b", 1)], &[], 2);
    let a = state
        .snapshot
        .content
        .models
        .iter()
        .position(|m| m.source.name == "a")
        .unwrap();
    let _busy = state.backends[a].load.enter();
    for seed in 0..20 {
        assert_eq!(plan_of(&state, seed), ["b", "a"]);
    }
}

#[test]
fn lowest_latency_measures_unmeasured_backends_first_then_prefers_the_fastest() {
    let state = fixture("lowest-latency", &[("a", 1), ("b", 1)], &[], 2);
    let idx = |name: &str| {
        state
            .snapshot
            .content
            .models
            .iter()
            .position(|m| m.source.name == name)
            .unwrap()
    };
    state.backends[idx("a")]
        .load
        .observe(std::time::Duration::from_millis(5));
    assert_eq!(plan_of(&state, 0), ["b", "a"], "b has no sample yet");
    state.backends[idx("b")]
        .load
        .observe(std::time::Duration::from_millis(50));
    assert_eq!(plan_of(&state, 0), ["a", "b"]);
}

#[test]
fn ejected_backends_are_skipped_unless_every_candidate_is_ejected() {
    let state = fixture("weighted", &[("a", 1)], &["f"], 2);
    let idx = |name: &str| {
        state
            .snapshot
            .content
            .models
            .iter()
            .position(|m| m.source.name == name)
            .unwrap()
    };
    let eject = Ejection {
        after_failures: 1,
        cool_down: std::time::Duration::from_secs(60),
    };
    state.backends[idx("a")].health.failed(eject);
    assert_eq!(plan_of(&state, 0), ["f*"]);
    state.backends[idx("f")].health.failed(eject);
    assert_eq!(plan_of(&state, 0), ["a", "f*"], "all ejected: try them all");
}
