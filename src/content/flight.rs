//! Single flight per digest, with pingora-cache's lock semantics: the first caller for a key
//! becomes the leader and does the work; later callers follow, watching its progress. A
//! leader that finishes publishes the outcome to every follower; a leader dropped mid-way
//! (its task cancelled, its client gone) marks the flight abandoned on drop, so followers
//! wake and elect a new leader among themselves — nobody waits on a flight that will never
//! end. Written here because the crates that do single flight (e.g. `async_singleflight`)
//! share only a final value, while serving needs the progress of a download as it happens.

use super::Error;
use crate::model::Sha1Digest;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// What followers see of a flight.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Elected, not yet writing.
    Starting,
    /// The partial file holds this many bytes (not verified yet); `recent` are the last of
    /// them, so readers keeping up take them from here instead of from the disk.
    Running {
        written: u64,
        recent: Option<Recent>,
    },
    /// Finished: verified and published, or failed.
    Done(Result<(), Error>),
    /// The leader went away without finishing; rejoin to elect a new one.
    Abandoned,
}

/// The bytes of the partial file's latest write.
#[derive(Debug, Clone)]
pub struct Recent {
    /// Offset of `bytes[0]` in the file.
    pub start: u64,
    pub bytes: Bytes,
}

/// The flights in progress, one per digest.
#[derive(Debug, Default)]
pub struct Flights {
    map: Mutex<HashMap<Sha1Digest, Arc<watch::Sender<Progress>>>>,
}

pub enum Role {
    Leader(Leader),
    Follower(watch::Receiver<Progress>),
}

impl Flights {
    /// Lead the flight for `key`, or follow the one in progress.
    pub fn join(self: &Arc<Self>, key: Sha1Digest) -> Role {
        let mut map = self.map();
        if let Some(tx) = map.get(&key) {
            return Role::Follower(tx.subscribe());
        }
        let tx = Arc::new(watch::channel(Progress::Starting).0);
        map.insert(key, tx.clone());
        Role::Leader(Leader {
            flights: self.clone(),
            key,
            tx,
            finished: false,
        })
    }

    /// Number of flights in progress.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Sha1Digest, Arc<watch::Sender<Progress>>>> {
        // The map is only inserted into and removed from; a panic cannot leave it torn.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remove(&self, key: &Sha1Digest, tx: &Arc<watch::Sender<Progress>>) {
        let mut map = self.map();
        if map.get(key).is_some_and(|t| Arc::ptr_eq(t, tx)) {
            map.remove(key);
        }
    }
}

/// The right and duty to do a flight's work. Dropping it unfinished abandons the flight.
pub struct Leader {
    flights: Arc<Flights>,
    key: Sha1Digest,
    tx: Arc<watch::Sender<Progress>>,
    finished: bool,
}

impl Leader {
    pub fn progress(&self, written: u64) {
        self.tx.send_replace(Progress::Running {
            written,
            recent: None,
        });
    }

    /// `bytes` were just appended at `start`.
    pub fn wrote(&self, start: u64, bytes: Bytes) {
        self.tx.send_replace(Progress::Running {
            written: start + bytes.len() as u64,
            recent: Some(Recent { start, bytes }),
        });
    }

    /// A receiver for this flight, as a follower would get.
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.tx.subscribe()
    }

    /// Publish the outcome and end the flight. The flight leaves the map first, so a caller
    /// arriving now starts afresh (and finds the file published) instead of joining it.
    pub fn finish(mut self, outcome: Result<(), Error>) {
        self.finished = true;
        self.flights.remove(&self.key, &self.tx);
        self.tx.send_replace(Progress::Done(outcome));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if !self.finished {
            self.flights.remove(&self.key, &self.tx);
            self.tx.send_replace(Progress::Abandoned);
        }
    }
}

/// Wait for the flight's end: `Some(outcome)`, or `None` when it was abandoned.
pub async fn outcome(rx: &mut watch::Receiver<Progress>) -> Option<Result<(), Error>> {
    loop {
        match &*rx.borrow_and_update() {
            Progress::Done(r) => return Some(r.clone()),
            Progress::Abandoned => return None,
            Progress::Starting | Progress::Running { .. } => {}
        }
        if rx.changed().await.is_err() {
            // Every sender is gone; the last value is final.
            return match &*rx.borrow() {
                Progress::Done(r) => Some(r.clone()),
                _ => None,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const KEY: Sha1Digest = Sha1Digest([7; 20]);

    #[test]
    fn first_caller_leads_and_later_ones_follow() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(leader) = flights.join(KEY) else {
            panic!("first caller must lead")
        };
        assert!(matches!(flights.join(KEY), Role::Follower(_)));
        assert!(matches!(flights.join(Sha1Digest([8; 20])), Role::Leader(_)));
        leader.finish(Ok(()));
        assert_eq!(
            flights.len(),
            0,
            "finished and dropped flights leave the map"
        );
        assert!(matches!(flights.join(KEY), Role::Leader(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn followers_get_the_leaders_outcome() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(leader) = flights.join(KEY) else {
            panic!()
        };
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let Role::Follower(mut rx) = flights.join(KEY) else {
                    panic!()
                };
                tokio::spawn(async move { outcome(&mut rx).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(5)).await;
        leader.progress(10);
        leader.finish(Err(Error::Cancelled));
        for w in waiters {
            assert!(matches!(w.await.unwrap(), Some(Err(Error::Cancelled))));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_leader_wakes_followers_who_elect_a_new_one() {
        let flights = Arc::new(Flights::default());
        let f = flights.clone();
        // The leader's task is aborted mid-work, as when its client disconnects.
        let leader_task = tokio::spawn(async move {
            let Role::Leader(leader) = f.join(KEY) else {
                panic!()
            };
            leader.progress(1);
            std::future::pending::<()>().await;
            drop(leader);
        });
        tokio::task::yield_now().await;
        let followers: Vec<_> = (0..3)
            .map(|i| {
                let flights = flights.clone();
                tokio::spawn(async move {
                    loop {
                        match flights.join(KEY) {
                            Role::Leader(l) => {
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                l.finish(Ok(()));
                                return format!("led {i}");
                            }
                            Role::Follower(mut rx) => {
                                if let Some(r) = outcome(&mut rx).await {
                                    r.unwrap();
                                    return "followed".to_string();
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(10)).await;
        leader_task.abort();
        let mut roles = Vec::new();
        for f in followers {
            roles.push(
                tokio::time::timeout(Duration::from_secs(60), f)
                    .await
                    .expect("a follower hung after its leader was dropped")
                    .unwrap(),
            );
        }
        assert_eq!(roles.iter().filter(|r| r.starts_with("led")).count(), 1);
        assert_eq!(roles.iter().filter(|r| *r == "followed").count(), 2);
    }
}
