//! Starting planned jobs: each stored `admitted` first (its lien held), then
//! handed to the engine as one batch; `running` when the engine says so.

use super::{Controller, Queued};
use crate::clock::now_ms;
use aisc_control::arrays::Split;
use aisc_control::effect::Effect;
use aisc_control::steps::Admit;
use aisc_engine::{Accounts, Alloc, StartJob};
use aisc_model::{JobId, ProjectId};
use aisc_sched::Placement;
use aisc_store::{JobChange, NewAudit, NewJob, StoreError};

impl Controller {
    /// Hands planned jobs to the engine: those the plan started (they fit
    /// what is free), then, where the engine keeps a queue of its own, the
    /// next waiting ones in priority order as long as fewer than its depth
    /// wait there ([`aisc_control::core::Core::hand_over`]). Each is admitted
    /// by the core's steps (lien, then `admitted`) before the batch is
    /// started.
    pub(super) async fn hand_over(&mut self, plan: &aisc_sched::Plan) {
        let mut batch = Vec::new();
        for (q, placement, split) in self.core.hand_over(plan) {
            let q = match split {
                None => q,
                Some(split) => match self.record_split(q, split).await {
                    Ok(q) => q,
                    Err(_) => continue,
                },
            };
            let id = q.id;
            let admitted = match self.admit(q, placement).await {
                Ok(steps) => self.apply(steps, None).await,
                Err(e) => Err(e),
            };
            match admitted {
                Ok(starts) => batch.extend(starts),
                Err(e) => {
                    self.core.admission_failed(id);
                    tracing::error!(job = %id, error = %e, "could not record a start");
                }
            }
        }
        if batch.is_empty() {
            return;
        }
        for ev in self.engine.start(batch) {
            self.on_engine(ev).await;
        }
    }

    /// Stores a task taken off a waiting array: a record of its own (and
    /// the array's waiting tasks without it), or, for its last task, the
    /// array's own record made the task's. Answers the task with its id; if
    /// the store failed, the task waits with its array again.
    pub(super) async fn record_split(
        &mut self,
        mut task: Queued,
        split: Split,
    ) -> Result<Queued, StoreError> {
        let written = if split.last {
            self.store
                .change(JobChange::LastTask {
                    id: split.array,
                    task: split.task,
                })
                .await
                .map(|()| split.array)
        } else {
            let new = NewJob {
                owner: task.owner,
                spec: task.spec.clone(),
                reason: "Priority".into(),
                submit_ms: task.submit_ms,
                project: task.project,
                charging: task.charging,
                array_waiting: Some(split.waiting.clone()),
            };
            let audit = NewAudit {
                at_ms: now_ms(),
                actor: "scheduler".into(),
                action: "job.array_task".into(),
                target: String::new(),
                summary: format!(
                    "task {}_{} of array {}",
                    split.array, split.task, split.array
                ),
                source: "local".into(),
            };
            self.store.submit(new, audit).await
        };
        match written {
            Ok(id) => {
                task.id = id;
                Ok(task)
            }
            Err(e) => {
                tracing::error!(array = %split.array, task = split.task, error = %e, "could not record an array task");
                self.core.split_failed(split);
                Err(e)
            }
        }
    }

    /// Looks up what the engine needs to start a planned job (its Unix
    /// account, class and project), then asks the core for the steps of its
    /// admission.
    async fn admit(&mut self, q: Queued, placement: Placement) -> Result<Vec<Effect>, StoreError> {
        let now = now_ms();
        let unix_name = match self.engine.accounts() {
            Accounts::Unused => None,
            Accounts::Optional | Accounts::Required => self.store.unix_name(q.owner).await?,
        };
        let refused = (unix_name.is_none() && self.engine.accounts() == Accounts::Required)
            .then(|| {
                format!(
                    "refused: user {} has no Unix user name for {} (an administrator sets one: aisc user set-unix-name {} NAME)",
                    q.user,
                    self.engine.name(),
                    q.user
                )
            });
        let class = match q.charging {
            Some(c) => Some(self.grant_class(c.grant).await?),
            None => None,
        };
        let account = match q.project {
            Some(p) => Some(self.project_name(p).await?),
            None => None,
        };
        let allocs = placement
            .allocs
            .iter()
            .map(|a| Alloc {
                node: self
                    .nodes
                    .get(a.node)
                    .map(|n| n.name.clone())
                    .unwrap_or_default(),
                gpu_ids: a.gpus.clone(),
                cpus: a.cpus,
                mem_mb: a.mem_mb,
            })
            .collect();
        let start = StartJob {
            job: q.id,
            user: q.user.clone(),
            unix_name,
            account,
            class,
            spec: match &self.relay {
                Some(relay) => relay.wrap(q.id, q.spec.clone()),
                None => q.spec.clone(),
            },
            allocs,
            restarts: q.restarts,
        };
        let admission = self.engine.admission(&start);
        let admit = Admit {
            queued: q,
            placement,
            start,
            admission,
            refused,
        };
        Ok(self.core.admit(admit, now))
    }

    async fn grant_class(&mut self, grant: i64) -> Result<String, StoreError> {
        if let Some(c) = self.grant_class.get(&grant) {
            return Ok(c.clone());
        }
        let g = self.store.grant(grant).await?;
        self.grant_class.insert(grant, g.class_name.clone());
        Ok(g.class_name)
    }

    async fn project_name(&mut self, p: ProjectId) -> Result<String, StoreError> {
        if let Some(n) = self.project_names.get(&p) {
            return Ok(n.clone());
        }
        let all = self.store.projects().await?;
        let name = all
            .iter()
            .find(|x| x.id == p)
            .map(|x| x.name.clone())
            .ok_or(StoreError::NotFound)?;
        self.project_names = all.into_iter().map(|x| (x.id, x.name)).collect();
        Ok(name)
    }
}

impl Controller {
    /// Queues a requeued job again (stored pending, its next run numbered):
    /// as it is stored, so that its run, spec and charging are the store's.
    pub(super) async fn queue_again(&mut self, id: JobId) -> Result<(), StoreError> {
        let row = self.store.job(id).await?;
        if row.state != aisc_model::JobState::Pending || self.core.queue.contains(id) {
            return Ok(());
        }
        match super::follow::queued(&row) {
            Some(q) => {
                super::follow::enqueue(&mut self.core.queue, q, &row);
                self.dirty = true;
            }
            None => {
                tracing::error!(job = %id, "a requeued job's content was erased: it stays pending, unqueued")
            }
        }
        Ok(())
    }
}
