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
    channel::encode_snapshot_push,
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
    inputs::{Caches, SECRET_LABEL, generations},
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

/// When an object's current generation first reached the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Since {
    /// The generation in the snapshot.
    pub generation: i64,
    /// The first version that contained it.
    pub version: u64,
    /// When that version was published.
    pub at: Instant,
}

/// The outcome of one compilation, for the status writer.
#[derive(Debug)]
pub struct Round {
    /// Problems by object.
    pub findings: BTreeMap<ObjectRef, Vec<Finding>>,
    /// For each object in the snapshot: its generation there and since when it is served.
    pub since: Arc<HashMap<ObjectRef, Since>>,
    /// The generation of every object this round compiled, served or not. Status waits for a
    /// later round for anything else: an object applied after the compilation would
    /// otherwise be written `NotServed` first and `Programmed` a moment later.
    pub compiled: HashMap<ObjectRef, Option<i64>>,
    /// When the first change of this round was seen.
    pub started: Instant,
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

/// What the loop remembers between rounds: the published snapshot's hash, not the snapshot
/// (tens of megabytes at scale; the fleet holds its encoded frame).
#[derive(Default)]
struct Last {
    version: u64,
    hash: Option<String>,
    since: Arc<HashMap<ObjectRef, Since>>,
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
            // A replica that becomes leader publishes again at once, under a new version, so
            // that it never pushes a version lower than one its predecessor pushed.
            let restamp = tokio::select! {
                _ = self.changed.notified() => false,
                changed = self.leading.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if !*self.leading.borrow_and_update() || last.hash.is_none() {
                        continue;
                    }
                    true
                }
            };
            let started = Instant::now();
            if !restamp {
                settle(&self.changed, started).await;
            }
            if let Err(error) = self.round(&mut last, started, restamp).await {
                self.metrics
                    .reconcile_errors
                    .with_label_values(&["compile"])
                    .inc();
                tracing::error!(error = format!("{error:#}"), "compilation failed");
            }
        }
    }

    async fn round(&self, last: &mut Last, started: Instant, restamp: bool) -> anyhow::Result<()> {
        let inputs = self.caches.inputs();
        let metrics = self.metrics.clone();
        let compiling = tokio::task::spawn_blocking(move || {
            let _timer = metrics.compile_duration.start_timer();
            (compile(&inputs), generations(&inputs))
        });
        // The compilation overlaps the wait for the fleet to take the previous snapshot.
        let fleet_caught_up = async {
            if !restamp && last.hash.is_some() {
                self.fleet.wait_synced(last.version, FLEET_WAIT).await;
            }
        };
        let (compiled, ()) = tokio::join!(compiling, fleet_caught_up);
        let (compiled, generations) = compiled.context("the compile task")?;
        let compiled = compiled.context("sealing the snapshot")?;
        let findings = findings(&compiled.problems);
        if restamp || last.hash.as_ref() != Some(&compiled.snapshot.hash) {
            let version = next_version(last.version);
            let snapshot = compiled.snapshot.with_version(version);
            // After a change of leader every object counts as new in this version: acks the
            // predecessor collected are not this replica's to count.
            let previous = if restamp {
                &HashMap::new()
            } else {
                &*last.since
            };
            last.since = Arc::new(since(&snapshot, version, Instant::now(), previous));
            let snapshot = self.publish(snapshot).await?;
            tracing::info!(
                version,
                hash = %snapshot.hash,
                models = snapshot.content.models.len(),
                routes = snapshot.content.routes.len(),
                policies = snapshot.content.policies.len(),
                problems = compiled.problems.len(),
                restamp,
                "snapshot published"
            );
            last.version = version;
            last.hash = Some(snapshot.hash);
        }
        self.rounds.send_replace(Some(Arc::new(Round {
            findings,
            since: Arc::clone(&last.since),
            compiled: generations,
            started,
        })));
        Ok(())
    }

    /// Encodes `snapshot` on the blocking pool and hands it to the fleet; returns it, moved
    /// rather than copied (a large snapshot is tens of megabytes in memory).
    async fn publish(&self, snapshot: Snapshot) -> anyhow::Result<Snapshot> {
        let (snapshot, frame) = tokio::task::spawn_blocking(move || {
            let frame = encode_snapshot_push(&snapshot);
            (snapshot, frame)
        })
        .await
        .context("the encode task")?;
        let frame = frame.context("encoding the snapshot")?;
        self.fleet.publish(Published {
            version: snapshot.version,
            hash: snapshot.hash.clone(),
            frame: Bytes::from(frame),
        });
        Ok(snapshot)
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
    at: Instant,
    previous: &HashMap<ObjectRef, Since>,
) -> HashMap<ObjectRef, Since> {
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
            let since = match previous.get(&object) {
                Some(since) if since.generation == source.generation => *since,
                _ => Since {
                    generation: source.generation,
                    version,
                    at,
                },
            };
            (object, since)
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
