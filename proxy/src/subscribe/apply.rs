//! What the proxy does with one push: decode and verify it off the async threads, publish it
//! as the standalone watcher does (unless it is the snapshot already served), answer with the
//! ack, and have the copy on disk written in the background. A push that does not verify
//! changes nothing but the report.
//!
//! The ack does not wait for the disk: it says what is served, and a synced write of a large
//! snapshot by every proxy of a node at once would otherwise delay every `Programmed`.

use std::sync::Arc;

use switchyard_crds::{
    Snapshot,
    channel::{Ack, Push},
};
use tokio::sync::watch;

use super::{Origin, Subscriber, cache, error::chain};
use crate::metrics::PushResult;

/// A push, decoded.
enum Decoded {
    /// A snapshot that verified, with its JSON as received when it is to be cached.
    Verified {
        snapshot: Snapshot,
        json: Option<Arc<[u8]>>,
    },
    /// Why the push was refused; `version` is 0 when the frame is not even a push.
    Refused { version: u64, reason: String },
}

fn decode(frame: &[u8], keep_json: bool) -> Decoded {
    let push: Push<'_> = match serde_json::from_slice(frame) {
        Ok(push) => push,
        Err(error) => {
            return Decoded::Refused {
                version: 0,
                reason: format!("the frame is not a push: {error}"),
            };
        }
    };
    let json = push.snapshot.get().as_bytes();
    match Snapshot::from_json(json) {
        Err(error) => Decoded::Refused {
            version: push.version,
            reason: chain(&error),
        },
        Ok(snapshot) if snapshot.version != push.version => Decoded::Refused {
            version: push.version,
            reason: format!(
                "the push is version {} but its snapshot says version {}",
                push.version, snapshot.version
            ),
        },
        Ok(snapshot) => Decoded::Verified {
            snapshot,
            json: keep_json.then(|| Arc::from(json)),
        },
    }
}

impl Subscriber {
    /// Handles one push frame and returns its ack:
    /// 1. decode and verify it on the blocking pool (a snapshot can be megabytes);
    /// 2. if it is the snapshot already served, ack it without a swap;
    /// 3. otherwise publish it (prepare, resolve, install) and hand it to the cache writer;
    /// 4. if it does not verify, keep the old snapshot and nack with the reason.
    pub(super) async fn apply(&self, frame: Vec<u8>) -> Ack {
        let keep_json = self.options.cache.is_some();
        let decoded = tokio::task::spawn_blocking(move || decode(&frame, keep_json))
            .await
            .unwrap_or_else(|error| Decoded::Refused {
                version: 0,
                reason: format!("the push could not be decoded: {error}"),
            });
        let ack = match decoded {
            Decoded::Refused { version, reason } => self.refuse(version, reason),
            Decoded::Verified { snapshot, json } => {
                let (version, hash) = (snapshot.version, snapshot.hash.clone());
                if self.served_hash().as_deref() == Some(hash.as_str()) {
                    tracing::debug!(version, %hash, "pushed snapshot is already served");
                    self.metrics.channel.pushed(PushResult::Unchanged);
                } else {
                    self.publish(snapshot, Origin::Operator).await;
                    self.metrics.channel.pushed(PushResult::Accepted);
                    if json.is_some() {
                        self.unsaved.send_replace(json);
                    }
                }
                Ack {
                    version,
                    hash,
                    error: None,
                }
            }
        };
        self.status.acked(&ack);
        ack
    }

    fn refuse(&self, version: u64, reason: String) -> Ack {
        tracing::error!(version, %reason, "pushed snapshot refused; the current snapshot keeps serving");
        self.metrics.config_rejections.inc();
        self.metrics.channel.pushed(PushResult::Refused);
        self.store.reject(reason.clone());
        Ack {
            version,
            hash: self.served_hash().unwrap_or_default(),
            error: Some(reason),
        }
    }

    /// Writes each snapshot handed over in `unsaved` to the cache, one write at a time; a
    /// snapshot superseded while an older one is written is skipped.
    pub(super) async fn keep_saved(&self, unsaved: &mut watch::Receiver<Option<Arc<[u8]>>>) {
        while unsaved.changed().await.is_ok() {
            self.save_newest(unsaved).await;
        }
    }

    /// Saves the newest accepted snapshot as the last known good copy. A failure is logged:
    /// the snapshot is served all the same.
    pub(super) async fn save_newest(&self, unsaved: &mut watch::Receiver<Option<Arc<[u8]>>>) {
        let newest = unsaved.borrow_and_update().clone();
        let (Some(path), Some(json)) = (self.options.cache.clone(), newest) else {
            return;
        };
        let saved = tokio::task::spawn_blocking(move || {
            let saved = cache::save(&path, &json);
            (path, saved)
        })
        .await;
        match saved {
            Ok((_, Ok(()))) => {}
            Ok((path, Err(error))) => {
                tracing::warn!(path = %path.display(), %error, "the snapshot could not be saved to the cache");
            }
            Err(error) => tracing::warn!(%error, "the snapshot cache task failed"),
        }
    }

    /// The hash of the snapshot served now.
    pub(super) fn served_hash(&self) -> Option<String> {
        self.store.load().map(|state| state.snapshot.hash.clone())
    }
}

#[cfg(test)]
mod tests {
    use switchyard_crds::{channel::encode_push, snapshot::Content};

    use super::*;

    fn refusal(decoded: Decoded) -> (u64, String) {
        match decoded {
            Decoded::Refused { version, reason } => (version, reason),
            Decoded::Verified { .. } => panic!("the push was accepted"),
        }
    }

    #[test]
    fn a_verified_push_keeps_its_json_only_for_the_cache() {
        let snapshot = Snapshot::new(Content::default()).unwrap().with_version(3);
        let json = snapshot.to_json().unwrap();
        let frame = encode_push(3, &json);
        let Decoded::Verified {
            snapshot: decoded,
            json: kept,
        } = decode(&frame, true)
        else {
            panic!("refused");
        };
        assert_eq!((decoded.version, decoded.hash), (3, snapshot.hash));
        assert_eq!(kept.as_deref(), Some(&json[..]));
        assert!(matches!(
            decode(&frame, false),
            Decoded::Verified { json: None, .. }
        ));
    }

    #[test]
    fn a_frame_that_is_not_a_push_is_refused_as_version_0() {
        let (version, reason) = refusal(decode(b"{\"version\":", false));
        assert_eq!(version, 0);
        assert!(reason.starts_with("the frame is not a push"), "{reason}");
    }

    #[test]
    fn a_push_whose_version_disagrees_with_its_snapshot_is_refused() {
        let snapshot = Snapshot::new(Content::default()).unwrap().with_version(3);
        let frame = encode_push(4, &snapshot.to_json().unwrap());
        let (version, reason) = refusal(decode(&frame, false));
        assert_eq!(version, 4);
        assert!(reason.contains("says version 3"), "{reason}");
    }

    #[test]
    fn a_snapshot_of_the_wrong_shape_is_refused_with_the_decoder_error() {
        let frame = encode_push(5, br#"{"version":5,"hash":"x"}"#);
        let (version, reason) = refusal(decode(&frame, false));
        assert_eq!(version, 5);
        assert!(reason.contains("missing field `content`"), "{reason}");
    }
}
