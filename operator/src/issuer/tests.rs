//! The refresh loop on a paused clock, with scripted reads in place of the API server.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use tokio::time::Instant;

use super::*;

const REFRESH: Duration = Duration::from_secs(600);

fn issuer(keys: &str) -> ServiceAccountIssuer {
    ServiceAccountIssuer {
        issuer: "https://kubernetes.default.svc".into(),
        jwks: format!(r#"{{"keys":[{keys}]}}"#),
    }
}

/// Reads that answer from a script, in order, and remember when they were made; once the
/// script is used up a read never answers.
#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<VecDeque<Result<ServiceAccountIssuer, IssuerError>>>>,
    reads: Arc<Mutex<Vec<Instant>>>,
}

impl Script {
    fn new(answers: impl IntoIterator<Item = Result<ServiceAccountIssuer, IssuerError>>) -> Self {
        Self {
            answers: Arc::new(Mutex::new(answers.into_iter().collect())),
            reads: Arc::default(),
        }
    }

    fn start(&self, changed: &Arc<Notify>, metrics: &Metrics) -> ClusterIssuer {
        let script = self.clone();
        let read = move || {
            script.reads.lock().unwrap().push(Instant::now());
            let answer = script.answers.lock().unwrap().pop_front();
            async move {
                match answer {
                    Some(answer) => answer,
                    None => std::future::pending().await,
                }
            }
        };
        ClusterIssuer::start_with(read, REFRESH, Arc::clone(changed), metrics)
    }

    /// The time between consecutive reads.
    fn gaps(&self) -> Vec<Duration> {
        let reads = self.reads.lock().unwrap();
        reads.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

fn issuer_errors(metrics: &Metrics) -> u64 {
    metrics
        .reconcile_errors
        .with_label_values(&["issuer"])
        .get()
}

#[tokio::test(start_paused = true)]
async fn new_keys_wake_the_reconciler_and_the_same_keys_do_not() {
    let (first, rotated) = (issuer(r#"{"kid":"a"}"#), issuer(r#"{"kid":"b"}"#));
    let script = Script::new([Ok(first.clone()), Ok(first.clone()), Ok(rotated.clone())]);
    let changed = Arc::new(Notify::new());
    let metrics = Metrics::new().unwrap();
    let cluster = script.start(&changed, &metrics);

    cluster.ready().await;
    assert_eq!(cluster.current(), Some(first.clone()));
    changed.notified().await;

    // The second read, one interval later, finds the same keys: no new compilation.
    let quiet = tokio::time::timeout(REFRESH + Duration::from_secs(1), changed.notified()).await;
    assert!(quiet.is_err(), "unchanged keys woke the reconciler");
    assert_eq!(script.reads.lock().unwrap().len(), 2);

    // The third finds rotated keys.
    changed.notified().await;
    assert_eq!(cluster.current(), Some(rotated));
    assert_eq!(script.gaps(), [REFRESH, REFRESH]);
    assert_eq!(issuer_errors(&metrics), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_read_is_counted_retried_with_backoff_and_keeps_the_last_good_issuer() {
    let good = issuer(r#"{"kid":"a"}"#);
    let script = Script::new([
        Err(IssuerError::NoKeys),
        Err(IssuerError::EmptyIssuer),
        Ok(good.clone()),
        Err(IssuerError::NoKeys),
    ]);
    let changed = Arc::new(Notify::new());
    let metrics = Metrics::new().unwrap();
    let cluster = script.start(&changed, &metrics);

    // The first compilation need not wait for a cluster that cannot answer.
    cluster.ready().await;
    assert_eq!(cluster.current(), None);
    assert_eq!(issuer_errors(&metrics), 1);

    changed.notified().await;
    assert_eq!(cluster.current(), Some(good.clone()));
    assert_eq!(issuer_errors(&metrics), 2);

    // A failure after a good read keeps the good one.
    tokio::time::sleep(REFRESH + Duration::from_secs(1)).await;
    assert_eq!(issuer_errors(&metrics), 3);
    assert_eq!(cluster.current(), Some(good));
    assert_eq!(
        script.gaps(),
        [Duration::from_secs(1), Duration::from_secs(2), REFRESH],
        "retries back off from one second; a good read waits a whole interval"
    );
}

#[tokio::test(start_paused = true)]
async fn a_read_that_hangs_times_out_and_is_retried() {
    let good = issuer(r#"{"kid":"a"}"#);
    let hang = Script::new([]);
    let changed = Arc::new(Notify::new());
    let metrics = Metrics::new().unwrap();
    let cluster = hang.start(&changed, &metrics);
    cluster.ready().await;
    assert_eq!(
        issuer_errors(&metrics),
        1,
        "the hung read counted as failed"
    );
    hang.answers.lock().unwrap().push_back(Ok(good.clone()));
    changed.notified().await;
    assert_eq!(cluster.current(), Some(good));
    assert_eq!(hang.gaps(), [READ_TIMEOUT + FIRST_RETRY]);
}
