//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does:
//! the holder renews the Lease every `retry` interval; another replica takes it over once it
//! has not been renewed for `duration`. Writes carry the Lease's resourceVersion, so two
//! replicas racing for it cannot both win.
//!
//! A leader that fails to renew for two thirds of `duration` steps down on its own, before any
//! other replica may take over, so there is never a moment with two leaders writing status.

use std::time::Duration;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::{SignedDuration, Timestamp},
};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};
use tokio::{sync::watch, time::Instant};

use crate::metrics::Metrics;

/// Where the Lease lives and how it is timed.
#[derive(Clone, Debug)]
pub struct Election {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a Lease is valid after its last renewal.
    pub duration: Duration,
    /// How often the holder renews and the others try.
    pub retry: Duration,
}

/// Runs the election until `shutdown` turns true, then releases the Lease if held; publishes
/// whether this replica leads on `leading`.
pub async fn run(
    client: kube::Client,
    election: Election,
    leading: watch::Sender<bool>,
    metrics: Metrics,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, &election.namespace);
    let renew_deadline = election.duration * 2 / 3;
    let mut last_renewed: Option<Instant> = None;
    loop {
        match try_acquire_or_renew(&api, &election).await {
            Ok(true) => last_renewed = Some(Instant::now()),
            Ok(false) => last_renewed = None,
            Err(error) => {
                metrics.reconcile_errors.with_label_values(&["lease"]).inc();
                tracing::warn!(%error, lease = %election.name, "could not renew the leader Lease");
            }
        }
        let is_leader = last_renewed.is_some_and(|at| at.elapsed() < renew_deadline);
        if *leading.borrow() != is_leader {
            tracing::info!(identity = %election.identity, is_leader, "leadership changed");
            metrics.leader.set(i64::from(is_leader));
            leading.send_replace(is_leader);
        }
        tokio::select! {
            _ = tokio::time::sleep(election.retry) => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    if *leading.borrow() {
        leading.send_replace(false);
        metrics.leader.set(0);
        if let Err(error) = release(&api, &election).await {
            tracing::warn!(%error, "could not release the leader Lease");
        } else {
            tracing::info!("released the leader Lease");
        }
    }
}

/// One round: takes the Lease if it is free or expired, renews it if held. Returns whether
/// this replica holds it now.
async fn try_acquire_or_renew(api: &Api<Lease>, election: &Election) -> kube::Result<bool> {
    let now = MicroTime(Timestamp::now());
    let Some(mut lease) = api.get_opt(&election.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(election.name.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(spec(election, now.clone(), now, 0)),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        };
    };
    let current = lease.spec.clone().unwrap_or_default();
    let held_by_me = current.holder_identity.as_deref() == Some(election.identity.as_str());
    let next = if held_by_me {
        LeaseSpec {
            renew_time: Some(now),
            lease_duration_seconds: Some(seconds(election.duration)),
            ..current
        }
    } else if is_free(&current) {
        let transitions = current.lease_transitions.unwrap_or(0) + 1;
        spec(election, now.clone(), now, transitions)
    } else {
        return Ok(false);
    };
    lease.spec = Some(next);
    // The resourceVersion read above makes this a compare-and-swap.
    match api
        .replace(&election.name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}

/// Gives the Lease up so another replica takes over at once rather than after it expires.
async fn release(api: &Api<Lease>, election: &Election) -> kube::Result<()> {
    let Some(mut lease) = api.get_opt(&election.name).await? else {
        return Ok(());
    };
    let Some(spec) = lease.spec.as_mut() else {
        return Ok(());
    };
    if spec.holder_identity.as_deref() != Some(election.identity.as_str()) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.renew_time = None;
    api.replace(&election.name, &PostParams::default(), &lease)
        .await
        .map(drop)
}

fn spec(
    election: &Election,
    acquired: MicroTime,
    renewed: MicroTime,
    transitions: i32,
) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(election.identity.clone()),
        lease_duration_seconds: Some(seconds(election.duration)),
        acquire_time: Some(acquired),
        renew_time: Some(renewed),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

/// Whether nobody holds the Lease: no holder, never renewed, or not renewed for its duration.
fn is_free(spec: &LeaseSpec) -> bool {
    let (Some(_), Some(renewed)) = (&spec.holder_identity, &spec.renew_time) else {
        return true;
    };
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
    renewed.0 + duration < Timestamp::now()
}

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(renewed_secs_ago: i64, duration: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some("other".into()),
            renew_time: Some(MicroTime(
                Timestamp::now() - SignedDuration::from_secs(renewed_secs_ago),
            )),
            lease_duration_seconds: Some(duration),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_lease_is_free_only_when_unheld_or_expired() {
        assert!(is_free(&LeaseSpec::default()));
        assert!(!is_free(&held(1, 15)));
        assert!(is_free(&held(16, 15)));
        let released = LeaseSpec {
            holder_identity: None,
            ..held(1, 15)
        };
        assert!(is_free(&released));
    }
}
