//! Status: each object's `Accepted`, `ResolvedRefs` and `Programmed` conditions and its fleet
//! counts, written by server-side apply, only by the leader, and only when they differ from
//! what the object already shows. Transitions of a condition raise a Kubernetes Event.
//!
//! An object waits for the fleet to ack the first snapshot that serves its generation (up to
//! [`ACK_WAIT`] after that snapshot went out, and only while no proxy refused a push), so each
//! new generation usually costs one write, with `Programmed=True`, rather than two. Under a bulk
//! apply the API server is the bottleneck, and a second write per object would halve the rate
//! at which status keeps up.

use std::{
    collections::HashMap,
    fmt::Debug,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        events::{Event, EventType, Recorder, Reporter},
        reflector::Store,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use switchyard_crds::{
    AIModel, AIPolicy, AIRoute,
    conditions::{Condition, ConditionStatus, ConditionType, ObjectStatus, ProxyCounts},
    problems::{Kind, ObjectRef},
};
use tokio::{sync::watch, time::Instant};

use crate::{
    fleet::{Fleet, FleetView},
    inputs::{Caches, object_ref},
    metrics::Metrics,
    reconcile::{Finding, Round, Since},
};

/// The field manager of every status write.
pub const MANAGER: &str = "switchyard-operator";
/// How long status waits for the fleet to ack a new generation before writing `Pending`.
/// Longer than a push to a large fleet under load takes, short enough that a stuck proxy shows.
const ACK_WAIT: Duration = Duration::from_secs(10);
/// Status writes in flight at once.
const CONCURRENCY: usize = 64;
/// The longest condition message the CRD schema allows.
const MAX_MESSAGE: usize = 32_768;

/// A Switchyard resource, as status sees it.
pub trait Tracked:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + DeserializeOwned
    + Serialize
    + Clone
    + Debug
    + Send
    + Sync
    + 'static
{
    /// Its kind, as problems name it.
    const KIND: Kind;
    /// Its current status.
    fn status(&self) -> Option<&ObjectStatus>;
}

impl Tracked for AIModel {
    const KIND: Kind = Kind::AIModel;
    fn status(&self) -> Option<&ObjectStatus> {
        self.status.as_ref()
    }
}

impl Tracked for AIRoute {
    const KIND: Kind = Kind::AIRoute;
    fn status(&self) -> Option<&ObjectStatus> {
        self.status.as_ref()
    }
}

impl Tracked for AIPolicy {
    const KIND: Kind = Kind::AIPolicy;
    fn status(&self) -> Option<&ObjectStatus> {
        self.status.as_ref()
    }
}

/// The status writer.
pub struct StatusWriter {
    /// A client for writes.
    pub client: kube::Client,
    /// The objects.
    pub caches: Caches,
    /// The fleet, for `Programmed`.
    pub fleet: Arc<Fleet>,
    /// Compilation outcomes.
    pub rounds: watch::Receiver<Option<Arc<Round>>>,
    /// Whether this replica leads.
    pub leading: watch::Receiver<bool>,
    /// Metrics.
    pub metrics: Metrics,
    /// Names this replica in Events.
    pub identity: String,
}

/// Statuses written and not yet seen back through the watch: object → (resourceVersion it
/// had when written, status written).
type InFlight = HashMap<ObjectRef, (Option<String>, ObjectStatus)>;

impl StatusWriter {
    /// Runs until the reconcile loop ends.
    pub async fn run(mut self) {
        let recorder = Recorder::new(
            self.client.clone(),
            Reporter {
                controller: MANAGER.to_owned(),
                instance: Some(self.identity.clone()),
            },
        );
        let mut in_flight = InFlight::new();
        let mut fleet_changes = self.fleet.changes();
        let mut retry = false;
        // While objects wait for acks, the pass runs again at the latest when their wait ends.
        let mut deferred_until: Option<Instant> = None;
        loop {
            if !retry {
                let deferred = async {
                    match deferred_until {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    changed = self.rounds.changed() => if changed.is_err() { return },
                    changed = fleet_changes.changed() => if changed.is_err() { return },
                    changed = self.leading.changed() => if changed.is_err() { return },
                    () = deferred => {}
                }
            }
            // Let a burst of acks or connections arrive before writing.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let Some(round) = self.rounds.borrow_and_update().clone() else {
                continue;
            };
            if !*self.leading.borrow() {
                in_flight.clear();
                retry = false;
                continue;
            }
            let view = self.fleet.view();
            let pass = Pass::new(&round, &view);
            let mut failed = 0;
            failed += self
                .write::<AIModel>(&self.caches.models, &pass, &mut in_flight, &recorder)
                .await;
            failed += self
                .write::<AIRoute>(&self.caches.routes, &pass, &mut in_flight, &recorder)
                .await;
            failed += self
                .write::<AIPolicy>(&self.caches.policies, &pass, &mut in_flight, &recorder)
                .await;
            self.metrics.reconciles.inc();
            self.metrics
                .reconcile_duration
                .observe(round.started.elapsed().as_secs_f64());
            deferred_until = pass.next_due();
            retry = failed > 0;
            if retry {
                tracing::warn!(failed, "some status writes failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// Writes every object of one kind whose status changed; returns how many writes failed.
    async fn write<K: Tracked>(
        &self,
        store: &Store<K>,
        pass: &Pass<'_>,
        in_flight: &mut InFlight,
        recorder: &Recorder,
    ) -> usize {
        let mut writes = Vec::new();
        for object in store.state() {
            let key = object_ref(K::KIND, &*object);
            let current = object.status();
            let Some(desired) = pass.desired(&key, object.meta().generation, current) else {
                continue;
            };
            if current.is_some_and(|c| same(c, &desired)) {
                in_flight.remove(&key);
                continue;
            }
            let version = object.resource_version();
            if in_flight
                .get(&key)
                .is_some_and(|(v, written)| *v == version && same(written, &desired))
            {
                continue;
            }
            in_flight.insert(key.clone(), (version, desired.clone()));
            writes.push((object, key, desired));
        }
        let results = futures::stream::iter(writes)
            .map(|(object, key, desired)| async move {
                let api: Api<K> = Api::namespaced(self.client.clone(), &key.namespace);
                let patch = serde_json::json!({
                    "apiVersion": K::api_version(&()),
                    "kind": K::kind(&()),
                    "status": desired,
                });
                let params = PatchParams::apply(MANAGER).force();
                let written = api
                    .patch_status(&key.name, &params, &Patch::Apply(&patch))
                    .await;
                if written.is_ok() {
                    self.metrics.status_writes.inc();
                    for event in transitions(object.status(), &desired) {
                        if let Err(error) = recorder.publish(&event, &object.object_ref(&())).await
                        {
                            self.metrics
                                .reconcile_errors
                                .with_label_values(&["event"])
                                .inc();
                            tracing::debug!(%error, object = %key, "could not record an event");
                        }
                    }
                }
                (key, written.err())
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let mut failed = 0;
        for (key, error) in results {
            if let Some(error) = error {
                failed += 1;
                in_flight.remove(&key);
                self.metrics
                    .reconcile_errors
                    .with_label_values(&["status"])
                    .inc();
                tracing::warn!(object = %key, %error, "status write failed");
            }
        }
        failed
    }
}

/// One status pass: the compilation outcome, the fleet and the time.
struct Pass<'a> {
    round: &'a Round,
    view: &'a FleetView,
    /// For transition times.
    now: String,
    /// For ack waits.
    clock: Instant,
    /// When the earliest ack wait of an object left for later ends.
    next_due: Mutex<Option<Instant>>,
}

impl<'a> Pass<'a> {
    fn new(round: &'a Round, view: &'a FleetView) -> Self {
        Self {
            round,
            view,
            now: Timestamp::now().to_string(),
            clock: Instant::now(),
            next_due: Mutex::new(None),
        }
    }

    /// When the pass should run again for objects it left waiting for acks.
    fn next_due(&self) -> Option<Instant> {
        *self.next_due.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an object served since `since` should wait for acks rather than show
    /// `Pending`; remembers when the wait ends.
    fn waits(&self, since: &Since) -> bool {
        let due = since.at + ACK_WAIT;
        if due <= self.clock || !self.view.refusals().is_empty() {
            return false;
        }
        let mut next = self.next_due.lock().unwrap_or_else(PoisonError::into_inner);
        *next = Some(next.map_or(due, |n| n.min(due)));
        true
    }

    /// The status `object` should show, or `None` while it waits for a round that compiled
    /// its generation or for acks that are still due: writing `NotServed` or `Pending` now
    /// and `Programmed` a moment later would double the writes of every new generation.
    fn desired(
        &self,
        object: &ObjectRef,
        generation: Option<i64>,
        current: Option<&ObjectStatus>,
    ) -> Option<ObjectStatus> {
        if self.round.compiled.get(object) != Some(&generation) {
            return None;
        }
        let findings = self
            .round
            .findings
            .get(object)
            .map_or(&[][..], Vec::as_slice);
        let served = self
            .round
            .since
            .get(object)
            .filter(|since| Some(since.generation) == generation || generation.is_none());
        let (programmed, proxies) = match served {
            None => (
                (
                    ConditionStatus::False,
                    "NotServed",
                    "this generation is not in the snapshot; see Accepted and ResolvedRefs"
                        .to_owned(),
                ),
                None,
            ),
            Some(since) => {
                let (synced, total) = self.view.synced(since.version);
                let condition = if total == 0 {
                    (
                        ConditionStatus::False,
                        "NoProxies",
                        "no proxy is connected to the operator".to_owned(),
                    )
                } else if synced == total {
                    (
                        ConditionStatus::True,
                        "Programmed",
                        format!("served by all {total} connected proxies"),
                    )
                } else if self.waits(since) {
                    return None;
                } else {
                    let mut message = format!("served by {synced} of {total} connected proxies");
                    if !self.view.refusals().is_empty() {
                        message.push_str("; refused by ");
                        message.push_str(&self.view.refusals().join("; "));
                    }
                    (ConditionStatus::False, "Pending", message)
                };
                (condition, Some(ProxyCounts { synced, total }))
            }
        };
        let conditions = [
            from_findings(ConditionType::Accepted, findings),
            from_findings(ConditionType::ResolvedRefs, findings),
            (ConditionType::Programmed, programmed),
        ];
        Some(ObjectStatus {
            conditions: conditions
                .into_iter()
                .map(|(kind, (status, reason, message))| {
                    let previous = current
                        .and_then(|c| c.conditions.iter().find(|c| c.r#type == kind.as_str()));
                    let last_transition_time = previous
                        .filter(|p| p.status == status)
                        .map_or_else(|| self.now.clone(), |p| p.last_transition_time.clone());
                    Condition {
                        r#type: kind.as_str().to_owned(),
                        status,
                        observed_generation: generation,
                        last_transition_time,
                        reason: reason.to_owned(),
                        message: truncate(message),
                    }
                })
                .collect(),
            proxies,
        })
    }
}

/// `Accepted` or `ResolvedRefs` from the object's problems.
fn from_findings(
    kind: ConditionType,
    findings: &[Finding],
) -> (ConditionType, (ConditionStatus, &'static str, String)) {
    let mine: Vec<&Finding> = findings.iter().filter(|f| f.condition == kind).collect();
    let condition = match mine.first() {
        None => (ConditionStatus::True, kind.as_str(), String::new()),
        Some(first) => {
            let messages: Vec<&str> = mine.iter().map(|f| f.message.as_str()).collect();
            (ConditionStatus::False, first.reason, messages.join("; "))
        }
    };
    (kind, condition)
}

fn truncate(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE - 3;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("...");
    }
    message
}

/// Equal but for transition times, which only change along with a status.
fn same(a: &ObjectStatus, b: &ObjectStatus) -> bool {
    a.proxies == b.proxies
        && a.conditions.len() == b.conditions.len()
        && a.conditions.iter().zip(&b.conditions).all(|(x, y)| {
            x.r#type == y.r#type
                && x.status == y.status
                && x.reason == y.reason
                && x.message == y.message
                && x.observed_generation == y.observed_generation
        })
}

/// Events for conditions whose status changed: a condition turning False is a warning, one
/// turning True again is normal. A new object that is fine from the start raises none.
fn transitions(before: Option<&ObjectStatus>, after: &ObjectStatus) -> Vec<Event> {
    after
        .conditions
        .iter()
        .filter_map(|condition| {
            let previous = before
                .and_then(|b| b.conditions.iter().find(|c| c.r#type == condition.r#type))
                .map(|c| c.status);
            let changed = match previous {
                Some(status) => status != condition.status,
                None => {
                    condition.status == ConditionStatus::False && condition.r#type != "Programmed"
                }
            };
            if !changed {
                return None;
            }
            let type_ = if condition.status == ConditionStatus::True {
                EventType::Normal
            } else {
                EventType::Warning
            };
            let mut note = condition.message.clone();
            note.truncate(1000);
            Some(Event {
                type_,
                reason: condition.reason.clone(),
                note: Some(note),
                action: condition.r#type.clone(),
                secondary: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A round that compiled generation `generation` of one route, served since version
    /// `served` (if at all).
    fn round(findings: Vec<Finding>, generation: i64, served: Option<u64>) -> (Round, ObjectRef) {
        let object = ObjectRef {
            kind: Kind::AIRoute,
            namespace: "ns".into(),
            name: "r".into(),
        };
        let since = served.map(|version| Since {
            generation,
            version,
            at: Instant::now(),
        });
        let round = Round {
            findings: [(object.clone(), findings)].into(),
            since: Arc::new(since.map(|s| (object.clone(), s)).into_iter().collect()),
            compiled: [(object.clone(), Some(generation))].into(),
            started: Instant::now(),
        };
        (round, object)
    }

    /// A pass at wall time `now`, `later` after the round's snapshot went out.
    fn pass<'a>(round: &'a Round, view: &'a FleetView, now: &str, later: Duration) -> Pass<'a> {
        Pass {
            now: now.into(),
            clock: Instant::now() + later,
            ..Pass::new(round, view)
        }
    }

    fn condition<'a>(status: &'a ObjectStatus, kind: &str) -> &'a Condition {
        let found = status.conditions.iter().find(|c| c.r#type == kind);
        found.unwrap_or_else(|| unreachable!("{kind} is always written"))
    }

    #[test]
    fn a_dangling_reference_sets_resolved_refs_false_and_is_not_programmed() {
        let finding = Finding {
            condition: ConditionType::ResolvedRefs,
            reason: "BackendNotFound",
            message: "AIModel x does not exist".into(),
        };
        let (round, object) = round(vec![finding], 2, None);
        let view = FleetView::default();
        let status = pass(&round, &view, "t1", Duration::ZERO)
            .desired(&object, Some(2), None)
            .unwrap_or_else(|| unreachable!("nothing awaits acks"));
        assert_eq!(condition(&status, "Accepted").status, ConditionStatus::True);
        let refs = condition(&status, "ResolvedRefs");
        assert_eq!(
            (refs.status, refs.reason.as_str()),
            (ConditionStatus::False, "BackendNotFound")
        );
        assert_eq!(refs.observed_generation, Some(2));
        assert_eq!(condition(&status, "Programmed").reason, "NotServed");
        assert!(
            pass(&round, &view, "t1", Duration::ZERO)
                .desired(&object, Some(3), None)
                .is_none(),
            "a generation no round compiled yet waits for its round"
        );
        assert_eq!(
            transitions(None, &status).len(),
            1,
            "one warning for the dangling reference"
        );
    }

    #[test]
    fn transition_times_stay_while_a_status_holds() {
        let (round, object) = round(vec![], 1, Some(9));
        let view = FleetView::default();
        let first = pass(&round, &view, "t1", Duration::ZERO)
            .desired(&object, Some(1), None)
            .unwrap_or_else(|| unreachable!("nothing awaits acks"));
        let again = pass(&round, &view, "t2", Duration::ZERO)
            .desired(&object, Some(1), Some(&first))
            .unwrap_or_else(|| unreachable!("nothing awaits acks"));
        assert!(same(&first, &again));
        assert_eq!(condition(&again, "Accepted").last_transition_time, "t1");
        assert_eq!(condition(&again, "Programmed").reason, "NoProxies");
        assert!(transitions(Some(&first), &again).is_empty());
    }

    #[test]
    fn a_new_object_waits_for_due_acks_unless_a_proxy_refused() -> prometheus::Result<()> {
        let fleet = Arc::new(crate::fleet::Fleet::new(crate::metrics::Metrics::new()?));
        let proxy = fleet.join("p1".into());
        // The object first appears in version 9, just published; the proxy has not acked it.
        let (round, object) = round(vec![], 1, Some(9));
        let view = fleet.view();
        let soon = pass(&round, &view, "t1", Duration::from_secs(1));
        assert!(soon.desired(&object, Some(1), None).is_none(), "deferred");
        let due = soon.next_due();
        assert!(
            due.is_some_and(|due| due > soon.clock),
            "the pass runs again when the wait ends"
        );
        let late = pass(&round, &view, "t1", ACK_WAIT).desired(&object, Some(1), None);
        let late = late.unwrap_or_else(|| unreachable!("the wait is over"));
        assert_eq!(condition(&late, "Programmed").reason, "Pending");
        proxy.answer(&switchyard_crds::channel::Ack {
            version: 9,
            hash: "h".into(),
            error: Some("broken".into()),
        });
        let refused = fleet.view();
        let soon = pass(&round, &refused, "t1", Duration::from_secs(1));
        let now = soon.desired(&object, Some(1), None);
        let now = now.unwrap_or_else(|| unreachable!("a refusal is news"));
        assert!(
            condition(&now, "Programmed")
                .message
                .contains("refused by p1: broken")
        );
        Ok(())
    }
}
