//! The outbox consumers a process runs, started and stopped in one place
//! for `techtrade serve` (all of them, unless `--no-workers`) and
//! `techtrade worker`.
//!
//! Two kinds:
//! - **Shared** consumers keep one cursor in the database: saved-search
//!   alerts, the notify worker, and the search indexer when the index is a
//!   Meilisearch server; the registration office's deadline reminders run
//!   the same way, under a lease, though they read no cursor. N worker processes may run on one database, so
//!   each shared consumer runs under a lease (`techtrade_db::leases`): a
//!   process waits for the lease, runs the consumer while it renews the
//!   lease every third of `workers.lease_seconds`, and stops it as soon as
//!   a renewal says the lease is gone (or renewals have failed for too long
//!   to be sure). A process that dies stops renewing; another takes over
//!   after the lease runs out and carries on from the dead one's cursor.
//!   The alert consumer and email planning also check the lease inside the
//!   transaction that commits a batch with its cursor (a fence), so a holder
//!   stalled past its lease commits nothing; below that, their effects are
//!   deduped anyway (one `sent_emails` row per event and recipient, one
//!   alert per saved search and item).
//! - The **local** indexer of an embedded (tantivy) index, whose cursor is
//!   stored inside that process's own index: every process that opens an
//!   embedded index keeps it up to date itself, lease-free, API replicas
//!   included (otherwise their search would never change).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use techtrade_db::leases::Fence;
use techtrade_db::{Database, DbError, leases};
use techtrade_search::SharedIndex;

/// How often the search indexer and the alert consumer look for new events.
const IDLE: Duration = Duration::from_millis(500);

/// A shared outbox consumer (`techtrade worker --only …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Consumer {
    /// The search indexer (shared only with a Meilisearch index).
    Indexer,
    /// Saved-search alerts.
    Alerts,
    /// Email: planning from the outbox and delivery.
    Notify,
    /// The registration office's deadline reminders (into the outbox).
    Reminders,
}

impl Consumer {
    pub const ALL: [Self; 4] = [Self::Indexer, Self::Alerts, Self::Notify, Self::Reminders];

    /// The consumer's row in `consumer_leases`.
    pub fn lease_name(self) -> &'static str {
        match self {
            Self::Indexer => "search_indexer",
            Self::Alerts => "saved_search_alerts",
            Self::Notify => "notify",
            Self::Reminders => "registration_reminders",
        }
    }
}

/// What the consumers need, built once by the command that runs them.
pub(crate) struct Context {
    pub db: Database,
    pub search: SharedIndex,
    /// The index lives in this process (embedded): its indexer is local.
    pub search_is_local: bool,
    /// The notify worker, when `mail.enabled`.
    pub notifier: Option<techtrade_notify::Worker>,
    pub lease: Duration,
    /// Who this process is in `consumer_leases` (host, pid and a random part).
    pub holder: String,
    /// The registration office's calendar and clock, for its reminders.
    pub registry: techtrade_registry::RegistrySettings,
}

/// This process's name in `consumer_leases`: unique per start, and telling
/// an operator which host and process hold what.
pub(crate) fn holder_id() -> String {
    // Containers set HOSTNAME to the pod or container name; shells seldom export it.
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().replace(':', "-"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let random = techtrade_domain::ids::new_id();
    format!("{host}:{}:{}", std::process::id(), &random[random.len().saturating_sub(8)..])
}

type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;
/// Starts one run of a consumer: until the shutdown future resolves, with
/// the fence its commits must pass.
type Task = Arc<dyn Fn(Shutdown, Fence) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The running consumers of a process.
pub(crate) struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Asks every consumer to stop, waits until each has finished what it
    /// holds (an email being sent, a batch being committed) and given its
    /// lease back.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the local indexer (with an embedded index) and each of `shared`.
pub(crate) fn start(context: Context, shared: &[Consumer]) -> Running {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let Context { db, search, search_is_local, notifier, lease, holder, registry } = context;
    if search_is_local {
        let (db, search, stopped) = (db.clone(), search.clone(), stopped.clone());
        tasks.push(tokio::spawn(techtrade_search::indexer::run(db, search, IDLE, until_stopped(stopped))));
    }
    for &consumer in shared {
        let task: Task = match consumer {
            Consumer::Indexer if search_is_local => continue,
            Consumer::Indexer => {
                let (db, search) = (db.clone(), search.clone());
                // The Meilisearch indexer re-reads rows and writes documents
                // outside the database: replays are harmless, so no fence.
                Arc::new(move |shutdown: Shutdown, _: Fence| {
                    Box::pin(techtrade_search::indexer::run(db.clone(), search.clone(), IDLE, shutdown))
                })
            }
            Consumer::Alerts => {
                let (db, search) = (db.clone(), search.clone());
                Arc::new(move |shutdown: Shutdown, fence: Fence| {
                    let (db, search) = (db.clone(), search.clone());
                    Box::pin(techtrade_matching::alerts::run_fenced(db, search, IDLE, shutdown, Some(fence)))
                })
            }
            Consumer::Notify => {
                let Some(worker) = notifier.clone() else {
                    tracing::info!("mail.enabled = false: no emails are sent");
                    continue;
                };
                Arc::new(move |shutdown: Shutdown, fence: Fence| Box::pin(worker.fenced(Some(fence)).run(shutdown)))
            }
            Consumer::Reminders => {
                // A reminder is noted in the same transaction as its event,
                // once per deadline: a stalled holder's replay adds nothing.
                let (db, registry) = (db.clone(), registry.clone());
                Arc::new(move |shutdown: Shutdown, _: Fence| {
                    Box::pin(techtrade_registry::run_reminders(db.clone(), registry.clone(), shutdown))
                })
            }
        };
        let leased = Leased { db: db.clone(), consumer: consumer.lease_name(), holder: holder.clone(), lease };
        tasks.push(tokio::spawn(leased.run(task, stopped.clone())));
    }
    Running { stop, tasks }
}

fn until_stopped(mut stopped: watch::Receiver<bool>) -> Shutdown {
    Box::pin(async move { flag_set(&mut stopped).await })
}

/// Resolves once the flag is true (or its sender is gone).
async fn flag_set(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}

/// One shared consumer under its lease.
struct Leased {
    db: Database,
    consumer: &'static str,
    holder: String,
    lease: Duration,
}

/// Why a consumer's run under the lease ended.
enum Ended {
    Stopping,
    LeaseLost,
    ByItself,
}

impl Leased {
    async fn run(self, task: Task, mut stopped: watch::Receiver<bool>) {
        let renew_every = self.lease / 3;
        loop {
            // Wait for the lease (another process may hold it).
            loop {
                let stopping = *stopped.borrow();
                if stopping {
                    return;
                }
                match self.acquire().await {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(error) => tracing::warn!(consumer = self.consumer, %error, "taking a lease failed; retrying"),
                }
                tokio::select! {
                    _ = stopped.changed() => {}
                    () = tokio::time::sleep(renew_every) => {}
                }
            }
            tracing::info!(consumer = self.consumer, holder = %self.holder, "lease taken: running the consumer");
            let (lose, lost) = watch::channel(false);
            let shutdown: Shutdown = {
                let (mut stopped, mut lost) = (stopped.clone(), lost);
                Box::pin(async move {
                    tokio::select! {
                        () = flag_set(&mut stopped) => {}
                        () = flag_set(&mut lost) => {}
                    }
                })
            };
            let fence = Fence { consumer: self.consumer, holder: self.holder.clone(), lease: self.lease };
            let mut running = tokio::spawn(task(shutdown, fence));
            // Renewals run on their own clock; when they keep failing, the
            // consumer stops before the stored lease can have run out.
            let mut held_until = tokio::time::Instant::now() + self.lease;
            let ended = loop {
                tokio::select! {
                    _ = &mut running => break Ended::ByItself,
                    () = flag_set(&mut stopped) => break Ended::Stopping,
                    () = tokio::time::sleep(renew_every) => match self.renew().await {
                        Ok(true) => held_until = tokio::time::Instant::now() + self.lease,
                        Ok(false) => break Ended::LeaseLost,
                        Err(error) => {
                            tracing::warn!(consumer = self.consumer, %error, "renewing a lease failed");
                            if tokio::time::Instant::now() + renew_every >= held_until {
                                break Ended::LeaseLost;
                            }
                        }
                    },
                }
            };
            // A consumer that ends because it was told to stop can win the
            // race against the stop flag above: it is still a stop, and the
            // lease goes back.
            let finished = matches!(ended, Ended::ByItself);
            let ended = if finished && *stopped.borrow() { Ended::Stopping } else { ended };
            let _ = lose.send(true);
            if !finished {
                let _ = running.await;
            }
            match ended {
                Ended::Stopping => {
                    if let Err(error) = self.release().await {
                        tracing::warn!(consumer = self.consumer, %error, "giving the lease back failed");
                    }
                    tracing::info!(consumer = self.consumer, "consumer stopped; lease given back");
                    return;
                }
                Ended::LeaseLost => {
                    tracing::warn!(consumer = self.consumer, holder = %self.holder, "lease lost: consumer stopped");
                }
                Ended::ByItself => {
                    tracing::warn!(consumer = self.consumer, "consumer ended by itself; restarting it");
                    tokio::time::sleep(renew_every).await;
                }
            }
        }
    }

    fn until(&self) -> techtrade_db::Timestamp {
        techtrade_db::now() + self.lease
    }

    async fn acquire(&self) -> Result<bool, DbError> {
        let (consumer, holder, until) = (self.consumer, self.holder.clone(), self.until());
        self.db
            .run(move |conn| {
                leases::acquire(conn, consumer, &holder, techtrade_db::now(), until).map_err(DbError::from)
            })
            .await
    }

    async fn renew(&self) -> Result<bool, DbError> {
        let (consumer, holder, until) = (self.consumer, self.holder.clone(), self.until());
        self.db.run(move |conn| leases::renew(conn, consumer, &holder, until).map_err(DbError::from)).await
    }

    async fn release(&self) -> Result<bool, DbError> {
        let (consumer, holder) = (self.consumer, self.holder.clone());
        self.db
            .run(move |conn| leases::release(conn, consumer, &holder, techtrade_db::now()).map_err(DbError::from))
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use techtrade_db::testing::TestDatabase;
    use tokio::sync::mpsc;

    async fn next(events: &mut mpsc::UnboundedReceiver<&'static str>) -> &'static str {
        tokio::time::timeout(Duration::from_secs(10), events.recv()).await.expect("in time").expect("an event")
    }

    /// Hands `test`'s lease from `from` to `to`, as when `from`'s ran out.
    async fn hand_over(db: &Database, from: &'static str, to: &'static str) {
        db.run(move |conn| {
            let now = techtrade_db::now();
            leases::release(conn, "test", from, now)?;
            assert!(leases::acquire(conn, "test", to, now, now + Duration::from_secs(60))?);
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_lost_lease_stops_the_consumer_until_the_lease_is_back_and_a_stop_gives_it_back() {
        let database = TestDatabase::sqlite();
        let (sender, mut events) = mpsc::unbounded_channel();
        let task: Task = Arc::new(move |shutdown: Shutdown, _: Fence| {
            let sender = sender.clone();
            Box::pin(async move {
                let _ = sender.send("started");
                shutdown.await;
                let _ = sender.send("stopped");
            })
        });
        let leased =
            Leased { db: database.db.clone(), consumer: "test", holder: "me".into(), lease: Duration::from_secs(3) };
        let (stop, stopped) = watch::channel(false);
        let runner = tokio::spawn(leased.run(task, stopped));
        assert_eq!(next(&mut events).await, "started", "a free lease is taken at once");

        hand_over(&database.db, "me", "other").await;
        assert_eq!(next(&mut events).await, "stopped", "the next renewal finds the lease gone");
        hand_over(&database.db, "other", "me").await;
        assert_eq!(next(&mut events).await, "started", "and runs again once it is back");

        stop.send(true).unwrap();
        assert_eq!(next(&mut events).await, "stopped");
        tokio::time::timeout(Duration::from_secs(10), runner).await.unwrap().unwrap();
        let lease = database.db.run(|conn| leases::all(conn).map_err(DbError::from)).await.unwrap();
        assert!(lease[0].lease_until < techtrade_db::now(), "a clean stop gives the lease back");
    }
}
