//! Every rule compiles, names only fields the schema has, reads only bounded lists and
//! strings, and fits the API server's CEL cost budget.
//!
//! kube-cel's own analysis (`analyze_rule`) is a coarse heuristic: it takes the bound of the
//! first list it finds on the node, whichever list the rule reads. So this module also walks
//! each rule with the schema in hand, the way the API server's estimator does (cel-go's
//! `checker/cost.go` with the apiextensions size estimator), and prices it with the same factors:
//! 0.1 per byte a string operation traverses, regexes at a quarter of their length, and a
//! string's `maxLength` counted as up to 4 bytes per character.

use kube::core::cel::{
    ScopeContext, WarningKind, analyze_rule,
    cel::{
        Program,
        common::ast::{Expr, IdedExpr, LiteralValue},
    },
    compile_schema,
};
use serde_json::Value;

use super::{
    catalogue::{RuleSite, rule_sites},
    harness::Kind,
};

/// The API server's limit for one evaluation of one rule (`PerCallLimit`).
const PER_RULE_BUDGET: u64 = 1_000_000;
/// The API server's limit for all rules over one object (`RuntimeCELCostBudget`).
const PER_OBJECT_BUDGET: u64 = 10_000_000;
/// What the API server assumes for a string or list without a bound: a whole 3 MiB request.
const UNBOUNDED: u64 = 3 * 1024 * 1024;

#[test]
fn every_rule_compiles_in_kube_cel() {
    for site in Kind::ALL.into_iter().flat_map(rule_sites) {
        let compiled = compile_schema(site.node);
        let errors: Vec<_> = compiled
            .compilation_errors()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", describe(&site));
    }
}

#[test]
fn kube_cel_static_analysis_finds_nothing_to_warn_about() {
    for site in Kind::ALL.into_iter().flat_map(rule_sites) {
        let compiled = compile_schema(site.node);
        let loop_variables = loop_variables(&site.rule);
        let warnings: Vec<_> = analyze_rule(&site.rule, &compiled, ScopeContext::CrdValidation)
            .into_iter()
            // kube-cel 0.8 counts the variables of `all`, `exists` and `exists_one` as references
            // to undeclared variables; they are in scope.
            .filter(|w| {
                w.kind != WarningKind::WrongScope
                    || !loop_variables
                        .iter()
                        .any(|v| w.message.contains(&format!("variable '{v}'")))
            })
            .map(|w| w.message)
            .collect();
        assert!(warnings.is_empty(), "{}: {warnings:?}", describe(&site));
    }
}

/// The variables the rule's comprehensions declare.
fn loop_variables(rule: &str) -> Vec<String> {
    fn collect(expr: &IdedExpr, found: &mut Vec<String>) {
        match &expr.expr {
            Expr::Comprehension(c) => {
                found.push(c.iter_var.clone());
                found.push(c.accu_var.clone());
                for part in [
                    &c.iter_range,
                    &c.accu_init,
                    &c.loop_cond,
                    &c.loop_step,
                    &c.result,
                ] {
                    collect(part, found);
                }
            }
            Expr::Call(call) => {
                call.target.iter().for_each(|t| collect(t, found));
                call.args.iter().for_each(|a| collect(a, found));
            }
            Expr::Select(select) => collect(&select.operand, found),
            Expr::List(list) => list.elements.iter().for_each(|e| collect(e, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    if let Ok(program) = Program::compile(rule) {
        collect(program.expression(), &mut found);
    }
    found
}

#[test]
fn every_rule_names_only_fields_the_schema_has_and_reads_only_bounded_lists_and_strings() {
    let mut problems = Vec::new();
    for site in Kind::ALL.into_iter().flat_map(rule_sites) {
        let estimate = estimate(&site);
        for problem in estimate.problems {
            problems.push(format!("{}: {problem}", describe(&site)));
        }
        if let Err(list) = &site.runs {
            problems.push(format!("{}: runs once per item of {list}", describe(&site)));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_rule_and_every_object_stay_within_the_api_servers_cost_budget() {
    for kind in Kind::ALL {
        let mut object_cost = 0;
        for site in rule_sites(kind) {
            let cost = estimate(&site).cost;
            assert!(
                cost <= PER_RULE_BUDGET,
                "{}: estimated cost {cost} exceeds {PER_RULE_BUDGET}",
                describe(&site)
            );
            object_cost += cost * site.runs.clone().unwrap_or(UNBOUNDED);
        }
        assert!(
            object_cost <= PER_OBJECT_BUDGET,
            "{}: the rules of one object may cost {object_cost}, over {PER_OBJECT_BUDGET}",
            kind.name()
        );
    }
}

#[test]
fn the_estimator_prices_a_nested_list_walk_as_the_api_server_does() {
    // `self.backends.all(b, self.backends.exists_one(c, ...))` over 64 backends whose names are
    // up to 253 characters: each comparison reads up to 1012 bytes (cost 102), run 64 × 64 times.
    let site = rule_sites(Kind::Route)
        .into_iter()
        .find(|site| site.message == "each AIModel may appear only once in backends")
        .expect("the unique-backends rule");
    let cost = estimate(&site).cost;
    assert!(
        (64 * 64 * 102..PER_RULE_BUDGET).contains(&cost),
        "estimated {cost}"
    );
}

fn describe(site: &RuleSite) -> String {
    format!("{} {} rule {:?}", site.kind.name(), site.path, site.rule)
}

/// What a rule costs at most and what the walk found wrong with it.
struct Estimate {
    cost: u64,
    problems: Vec<String>,
}

fn estimate(site: &RuleSite) -> Estimate {
    let mut walk = Walk {
        scopes: vec![("self".to_owned(), Shape::Node(site.node, "self".to_owned()))],
        problems: Vec::new(),
    };
    let cost = match Program::compile(&site.rule) {
        Ok(program) => walk.cost(program.expression()).0,
        Err(error) => {
            walk.problems.push(format!("does not parse: {error}"));
            0
        }
    };
    Estimate {
        cost,
        problems: walk.problems,
    }
}

/// What the walk knows about a value.
#[derive(Clone)]
enum Shape {
    /// A value the schema describes, with its path in the rule (`self.backends[]`).
    Node(&'static Value, String),
    /// A string literal of this many bytes.
    Text(u64),
    /// A computed value: a number, a boolean, a URL.
    Other,
}

struct Walk {
    scopes: Vec<(String, Shape)>,
    problems: Vec<String>,
}

impl Walk {
    /// The worst-case cost of `expr` and the shape of its value.
    fn cost(&mut self, expr: &IdedExpr) -> (u64, Shape) {
        match &expr.expr {
            Expr::Literal(LiteralValue::String(text)) => (0, Shape::Text(text.len() as u64)),
            Expr::Literal(_) => (0, Shape::Other),
            Expr::Ident(name) => {
                let shape = self
                    .scopes
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, s)| s.clone());
                (1, shape.unwrap_or(Shape::Other))
            }
            Expr::Select(select) => {
                let (cost, operand) = self.cost(&select.operand);
                let shape = self.field(&operand, &select.field);
                (cost + 1, if select.test { Shape::Other } else { shape })
            }
            Expr::List(list) => {
                let cost = list.elements.iter().map(|e| self.cost(e).0).sum::<u64>();
                (cost + 10, Shape::Other)
            }
            Expr::Comprehension(comprehension) => {
                let (range_cost, range) = self.cost(&comprehension.iter_range);
                let (count, item) = self.items(&range);
                self.scopes.push((comprehension.iter_var.clone(), item));
                self.scopes
                    .push((comprehension.accu_var.clone(), Shape::Other));
                let init = self.cost(&comprehension.accu_init).0;
                let per_item =
                    self.cost(&comprehension.loop_cond).0 + self.cost(&comprehension.loop_step).0;
                let result = self.cost(&comprehension.result).0;
                self.scopes.truncate(self.scopes.len() - 2);
                (range_cost + init + count * per_item + result, Shape::Other)
            }
            Expr::Call(call) => {
                let target = call.target.as_deref().map(|t| self.cost(t));
                let args: Vec<_> = call.args.iter().map(|a| self.cost(a)).collect();
                let operands = target
                    .iter()
                    .chain(&args)
                    .map(|(cost, _)| cost)
                    .sum::<u64>();
                let target = target.map(|(_, shape)| shape);
                let shapes: Vec<_> = args.into_iter().map(|(_, shape)| shape).collect();
                let own = self.call(&call.func_name, target.as_ref(), &shapes);
                (operands + own, Shape::Other)
            }
            other => {
                self.problems
                    .push(format!("the estimator does not know {other:?}"));
                (UNBOUNDED, Shape::Other)
            }
        }
    }

    /// The cost of the call itself, its operands aside (cel-go's `functionCost`).
    fn call(&mut self, function: &str, target: Option<&Shape>, args: &[Shape]) -> u64 {
        let traversal = |bytes: u64| bytes.div_ceil(10);
        match (function, target, args) {
            ("matches", Some(text), [regex]) => {
                traversal(self.length(text) + 1) * self.length(regex).div_ceil(4)
            }
            ("startsWith" | "endsWith", Some(_), [prefix]) => traversal(self.length(prefix)),
            ("_==_" | "_!=_", None, [left, right]) => {
                let shorter = match (bound(left), bound(right)) {
                    (Ok(left), Ok(right)) => left.min(right),
                    (Ok(known), Err(_)) | (Err(_), Ok(known)) => known,
                    (Err(_), Err(_)) => self.length(left),
                };
                traversal(shorter).max(1)
            }
            ("isURL" | "url" | "duration", None, [text]) => 1 + traversal(self.length(text)),
            (
                "!_"
                | "_&&_"
                | "_||_"
                | "_?_:_"
                | "_<_"
                | "_<=_"
                | "_>_"
                | "_>=_"
                | "_+_"
                | "@not_strictly_false"
                | "size"
                | "getHostname",
                _,
                _,
            ) => 1,
            _ => {
                self.problems
                    .push(format!("the estimator does not price {function}()"));
                UNBOUNDED
            }
        }
    }

    /// The shape of `shape.field`; a field the schema does not have is a problem, since the API
    /// server refuses to compile such a rule.
    fn field(&mut self, shape: &Shape, field: &str) -> Shape {
        let Shape::Node(node, path) = shape else {
            return Shape::Other;
        };
        let child = &node["properties"][field];
        if child.is_object() {
            return Shape::Node(child, format!("{path}.{field}"));
        }
        if node["additionalProperties"].is_object() {
            return Shape::Node(&node["additionalProperties"], format!("{path}.{field}"));
        }
        self.problems.push(format!("{path} has no field {field}"));
        Shape::Other
    }

    /// How many items a comprehension over `range` visits, and their shape.
    fn items(&mut self, range: &Shape) -> (u64, Shape) {
        let Shape::Node(node, path) = range else {
            self.problems
                .push("iterates over a value the schema does not describe".to_owned());
            return (UNBOUNDED, Shape::Other);
        };
        let (bound, items) = match node["type"].as_str() {
            Some("array") => ("maxItems", Shape::Node(&node["items"], format!("{path}[]"))),
            _ => ("maxProperties", Shape::Other),
        };
        let count = node[bound].as_u64().unwrap_or_else(|| {
            self.problems
                .push(format!("iterates over {path}, which has no {bound}"));
            UNBOUNDED
        });
        (count, items)
    }

    /// The most bytes a string value can have; an unbounded one is a problem.
    fn length(&mut self, shape: &Shape) -> u64 {
        bound(shape).unwrap_or_else(|path| {
            self.problems
                .push(format!("reads the string {path}, which has no maxLength"));
            UNBOUNDED
        })
    }
}

/// The most bytes `shape` can have, or the path of the unbounded string it is.
fn bound(shape: &Shape) -> Result<u64, String> {
    match shape {
        Shape::Text(bytes) => Ok(*bytes),
        Shape::Other => Ok(1),
        Shape::Node(node, path) => {
            if let Some(chars) = node["maxLength"].as_u64() {
                return Ok(chars * 4);
            }
            if let Some(values) = node["enum"].as_array() {
                return Ok(values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::len)
                    .max()
                    .unwrap_or(0) as u64);
            }
            match node["type"].as_str() {
                Some("string") => Err(path.clone()),
                _ => Ok(1),
            }
        }
    }
}
