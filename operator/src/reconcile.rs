//! The reconcile loop: after a burst of changes settles, compile everything, stamp a new
//! version if the snapshot changed, publish it to the fleet and hand the outcome to the status
//! writer.
//!
//! Every replica compiles (so a new leader has a snapshot the moment it takes over), but a
//! replica re-stamps its snapshot when it becomes leader, so versions keep increasing across a
//! change of leader.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context as _;
use bytes::Bytes;
use switchyard_crds::{
    Snapshot,
    channel::encode_push,
    compile,
    conditions::ConditionType,
    problems::{Kind, ObjectRef},
};
use tokio::{
    sync::{Notify, watch},
    time::Instant,
};

use crate::{
    fleet::{Fleet, Published},
    inputs::{Caches, SECRET_LABEL},
    metrics::Metrics,
};

/// How long the inputs must be quiet before a compilation.
const QUIET: Duration = Duration::from_millis(50);
/// The longest a compilation waits for quiet, so a steady trickle of changes still gets out.
const MAX_WAIT: Duration = Duration::from_millis(300);
/// The longest a new snapshot waits for the fleet to take the previous one. A burst of changes
/// (a bulk apply) then becomes a few snapshots the fleet can absorb rather than one every
/// 300 ms, each decoded by every proxy; a single change is not delayed, since the fleet has
/// long acked the snapshot before it.
const FLEET_WAIT: Duration = Duration::from_secs(2);

/// One problem of one object, as its status shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The condition it sets to False.
    pub condition: ConditionType,
    /// Its reason.
    pub reason: &'static str,
    /// Its message.
    pub message: String,
}

/// The outcome of one compilation, for the status writer.
#[derive(Debug)]
pub struct Round {
    /// The version of the snapshot that holds this outcome.
    pub version: u64,
    /// Problems by object.
    pub findings: BTreeMap<ObjectRef, Vec<Finding>>,
    /// For each object in the snapshot: its generation there and the first version that
    /// contained that generation.
    pub since: Arc<HashMap<ObjectRef, (i64, u64)>>,
    /// When the first change of this round was seen.
    pub started: Instant,
    /// When `version` was published.
    pub published: Instant,
}

/// The loop's inputs and outputs.
pub struct Reconciler {
    /// The watched objects.
    pub caches: Caches,
    /// Notified on each relevant change.
    pub changed: Arc<Notify>,
    /// Where snapshots go.
    pub fleet: Arc<Fleet>,
    /// Where outcomes go.
    pub rounds: watch::Sender<Option<Arc<Round>>>,
    /// Whether this replica leads.
    pub leading: watch::Receiver<bool>,
    /// Metrics.
    pub metrics: Metrics,
}

/// What the loop remembers between rounds.
#[derive(Default)]
struct Last {
    version: u64,
    published: Option<Instant>,
    snapshot: Option<Snapshot>,
    since: Arc<HashMap<ObjectRef, (i64, u64)>>,
}

impl Reconciler {
    /// Runs until the watches end.
    pub async fn run(mut self) {
        if !self.caches.ready().await {
            return;
        }
        tracing::info!("caches synced; compiling");
        let mut last = Last::default();
        loop {
            tokio::select! {
                _ = self.changed.notified() => {}
                changed = self.leading.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if *self.leading.borrow_and_update() {
                        self.restamp(&mut last).await;
                    }
                    continue;
                }
            }
            let started = Instant::now();
            settle(&self.changed, started).await;
            if last.snapshot.is_some() {
                self.fleet.wait_synced(last.version, FLEET_WAIT).await;
            }
            if let Err(error) = self.round(&mut last, started).await {
                self.metrics
                    .reconcile_errors
                    .with_label_values(&["compile"])
                    .inc();
                tracing::error!(error = format!("{error:#}"), "compilation failed");
            }
        }
    }

    async fn round(&self, last: &mut Last, started: Instant) -> anyhow::Result<()> {
        let inputs = self.caches.inputs();
        let metrics = self.metrics.clone();
        let compiled = tokio::task::spawn_blocking(move || {
            let _timer = metrics.compile_duration.start_timer();
            compile(&inputs)
        })
        .await
        .context("the compile task")?
        .context("sealing the snapshot")?;
        let findings = findings(&compiled.problems);
        let changed = last
            .snapshot
            .as_ref()
            .is_none_or(|s| s.hash != compiled.snapshot.hash);
        if changed {
            let version = next_version(last.version);
            let snapshot = compiled.snapshot.with_version(version);
            last.since = Arc::new(since(&snapshot, version, &last.since));
            self.publish(&snapshot).await?;
            tracing::info!(
                version,
                hash = %snapshot.hash,
                models = snapshot.content.models.len(),
                routes = snapshot.content.routes.len(),
                policies = snapshot.content.policies.len(),
                problems = compiled.problems.len(),
                "snapshot published"
            );
            last.version = version;
            last.published = Some(Instant::now());
            last.snapshot = Some(snapshot);
        }
        self.rounds.send_replace(Some(Arc::new(Round {
            version: last.version,
            findings,
            since: Arc::clone(&last.since),
            started,
            published: last.published.unwrap_or(started),
        })));
        Ok(())
    }

    /// Gives the current snapshot a new, higher version, so that a new leader never pushes a
    /// version lower than one its predecessor pushed.
    async fn restamp(&self, last: &mut Last) {
        let Some(snapshot) = last.snapshot.take() else {
            return;
        };
        let version = next_version(last.version);
        let snapshot = snapshot.with_version(version);
        let since = last
            .since
            .iter()
            .map(|(object, (generation, _))| (object.clone(), (*generation, version)))
            .collect();
        last.since = Arc::new(since);
        if let Err(error) = self.publish(&snapshot).await {
            tracing::error!(error = format!("{error:#}"), "could not publish");
        }
        tracing::info!(version, "leading: snapshot re-stamped");
        last.version = version;
        last.published = Some(Instant::now());
        last.snapshot = Some(snapshot);
        let previous = self.rounds.borrow().clone();
        if let Some(round) = previous {
            self.rounds.send_replace(Some(Arc::new(Round {
                version,
                findings: round.findings.clone(),
                since: Arc::clone(&last.since),
                started: Instant::now(),
                published: Instant::now(),
            })));
        }
    }

    async fn publish(&self, snapshot: &Snapshot) -> anyhow::Result<()> {
        let snapshot = snapshot.clone();
        let published = tokio::task::spawn_blocking(move || {
            let json = snapshot.to_json()?;
            Ok::<_, serde_json::Error>(Published {
                version: snapshot.version,
                hash: snapshot.hash.clone(),
                frame: Bytes::from(encode_push(snapshot.version, &json)),
            })
        })
        .await
        .context("the encode task")?
        .context("encoding the snapshot")?;
        self.fleet.publish(published);
        Ok(())
    }
}

/// Waits until no change arrived for [`QUIET`], or [`MAX_WAIT`] after `started`.
async fn settle(changed: &Notify, started: Instant) {
    let deadline = started + MAX_WAIT;
    loop {
        let quiet_until = (Instant::now() + QUIET).min(deadline);
        tokio::select! {
            _ = changed.notified() => if Instant::now() >= deadline { return },
            _ = tokio::time::sleep_until(quiet_until) => return,
        }
    }
}

/// Versions are milliseconds since the epoch when that is larger than the last version plus
/// one: increasing within a replica, and across replicas whose clocks agree to within the time
/// a leader change takes.
fn next_version(last: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    now.max(last + 1)
}

/// Carries each object's first version over while its generation stays the same.
fn since(
    snapshot: &Snapshot,
    version: u64,
    previous: &HashMap<ObjectRef, (i64, u64)>,
) -> HashMap<ObjectRef, (i64, u64)> {
    let content = &snapshot.content;
    let sources = content
        .models
        .iter()
        .map(|m| (Kind::AIModel, &m.source))
        .chain(content.routes.iter().map(|r| (Kind::AIRoute, &r.source)))
        .chain(content.policies.iter().map(|p| (Kind::AIPolicy, &p.source)));
    sources
        .map(|(kind, source)| {
            let object = ObjectRef {
                kind,
                namespace: source.namespace.clone(),
                name: source.name.clone(),
            };
            let first = match previous.get(&object) {
                Some(&(generation, first)) if generation == source.generation => first,
                _ => version,
            };
            (object, (source.generation, first))
        })
        .collect()
}

fn findings(problems: &[switchyard_crds::Problem]) -> BTreeMap<ObjectRef, Vec<Finding>> {
    let mut findings: BTreeMap<ObjectRef, Vec<Finding>> = BTreeMap::new();
    for problem in problems {
        let mut message = problem.error.to_string();
        if problem.reason() == "SecretNotFound" {
            message.push_str(&format!(
                " (the operator only sees Secrets labelled {SECRET_LABEL})"
            ));
        }
        findings
            .entry(problem.object.clone())
            .or_default()
            .push(Finding {
                condition: problem.condition(),
                reason: problem.reason(),
                message,
            });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_only_increase() {
        let first = next_version(0);
        assert!(next_version(first) > first);
        assert_eq!(
            next_version(u64::MAX - 1),
            u64::MAX,
            "a far-future last version still grows"
        );
    }
}
