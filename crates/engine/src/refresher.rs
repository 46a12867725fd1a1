//! The background refresher: claims connections whose `refresh_at` has come, in batches, with a
//! lease, and refreshes them with bounded concurrency — before their tokens expire.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::clock::{after, between};
use crate::engine::{Engine, Reason};

/// The shortest sleep between rounds when work is waiting on other processes' leases.
const MIN_IDLE: Duration = Duration::from_millis(500);

impl Engine {
    /// Runs the refresher until `shutdown` completes, then waits for refreshes in flight.
    pub async fn run_refresher(&self, shutdown: impl Future<Output = ()> + Send) {
        let inner = &self.inner;
        let store = inner.vault.store();
        let permits = Arc::new(Semaphore::new(inner.policy.concurrency.max(1)));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let now = inner.vault.now();
            let claimed = match store
                .claim_due(&inner.owner, now, after(now, inner.policy.lease), inner.policy.batch)
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "refresher: cannot claim due connections");
                    Vec::new()
                }
            };
            let full_batch = claimed.len() >= inner.policy.batch as usize;
            for (tenant, id) in claimed {
                let permit = tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                    () = &mut shutdown => return self.drain(&permits).await,
                };
                let engine = self.clone();
                tokio::spawn(async move {
                    // Errors are recorded on the connection and logged by the refresh itself.
                    let _ = engine.refresh_shared(&tenant, &id, Reason::Scheduled).await;
                    drop(permit);
                });
            }
            if full_batch {
                continue;
            }
            let sleep = match store.next_due().await {
                Ok(Some(due)) => between(inner.vault.now(), due).clamp(MIN_IDLE, inner.policy.poll),
                Ok(None) => inner.policy.poll,
                Err(e) => {
                    tracing::error!(error = %e, "refresher: cannot read the schedule");
                    inner.policy.poll
                }
            };
            tokio::select! {
                () = tokio::time::sleep(sleep) => {},
                () = inner.wake.notified() => {},
                () = &mut shutdown => return self.drain(&permits).await,
            }
        }
    }

    /// Waits for every refresh in flight to finish.
    async fn drain(&self, permits: &Arc<Semaphore>) {
        let all = u32::try_from(self.inner.policy.concurrency.max(1)).unwrap_or(u32::MAX);
        let _ = permits.acquire_many(all).await;
    }
}
