//! Starting planned jobs: each stored `admitted` first (its lien held), then
//! handed to the engine as one batch; `running` when the engine says so.

use super::money::Hold;
use super::{Active, Controller, Queued};
use crate::clock::now_ms;
use aisc_engine::{Accounts, Alloc, StartJob};
use aisc_model::{JobId, JobState, ProjectId};
use aisc_sched::Placement;
use aisc_store::{Fields, StoreError};

impl Controller {
    /// Holds a job's lien before it is admitted (on any engine). When its
    /// grant cannot cover it, the job goes back to the queue with reason
    /// `GrantExhausted` and `None` is returned.
    pub(super) async fn lien_or_wait(&mut self, q: Queued) -> Result<Option<Queued>, StoreError> {
        if let Some(c) = q.charging
            && self.hold(q.id, &c).await? == Hold::Exhausted
        {
            let id = q.id;
            self.core.lien_refused(q);
            self.store
                .change(aisc_store::JobChange::Reasons(vec![(
                    id,
                    "GrantExhausted".into(),
                )]))
                .await?;
            return Ok(None);
        }
        Ok(Some(q))
    }

    /// Hands planned jobs to the engine: those the plan started (they fit
    /// what is free), then, where the engine keeps a queue of its own, the
    /// next waiting ones in priority order as long as fewer than its depth
    /// wait there. Jobs waiting for a grant, a quota or a release are never
    /// handed over. Each is admitted (lien, then `admitted`) before the batch
    /// is started.
    pub(super) async fn hand_over(&mut self, plan: &aisc_sched::Plan) {
        let mut batch = Vec::new();
        for (q, placement) in self.core.hand_over(plan) {
            let id = q.id;
            match self.admit(q, placement).await {
                Ok(Some(job)) => batch.push(job),
                Ok(None) => {}
                Err(e) => tracing::error!(job = %id, error = %e, "could not record a start"),
            }
        }
        if batch.is_empty() {
            return;
        }
        for ev in self.engine.start(batch) {
            self.on_engine(ev).await;
        }
    }

    /// Admits a planned job: its lien, then `admitted` with what the engine
    /// says of it. Returns what the engine needs to start it, or `None` when
    /// it went back to the queue (its grant cannot cover it) or was refused.
    async fn admit(
        &mut self,
        q: Queued,
        placement: Placement,
    ) -> Result<Option<StartJob>, StoreError> {
        // The lien first: a job is never admitted without its worst case held.
        let Some(q) = self.lien_or_wait(q).await? else {
            return Ok(None);
        };
        let now = now_ms();
        let unix_name = match self.engine.accounts() {
            Accounts::Unused => None,
            Accounts::Optional | Accounts::Required => self.store.unix_name(q.owner).await?,
        };
        if unix_name.is_none() && self.engine.accounts() == Accounts::Required {
            let reason = format!(
                "refused: user {} has no Unix user name for {} (an administrator sets one: aisc user set-unix-name {} NAME)",
                q.user,
                self.engine.name(),
                q.user
            );
            self.never_ran(q, JobState::Pending, JobState::Failed, reason, now)
                .await?;
            return Ok(None);
        }
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
        let job = StartJob {
            job: q.id,
            user: q.user.clone(),
            unix_name,
            account,
            class,
            spec: q.spec.clone(),
            allocs,
        };
        let admission = self.engine.admission(&job);
        let set = Fields {
            node: admission.node,
            gpu_ids: admission.gpu_ids,
            engine_submit_ms: admission.handed_over.then_some(now),
            ..Default::default()
        };
        self.transition(
            q.id,
            JobState::Pending,
            JobState::Admitted,
            &admission.reason,
            now,
            set,
        )
        .await?;
        self.core
            .running
            .insert(q.id, Active::admitted(q, placement, now));
        Ok(Some(job))
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

    /// Ends a job that never ran: its lien released, nothing charged.
    pub(super) async fn never_ran(
        &mut self,
        q: Queued,
        from: JobState,
        to: JobState,
        reason: String,
        now: i64,
    ) -> Result<(), StoreError> {
        if let Some(c) = q.charging {
            self.settle(q.id, &c, q.project, 0).await?;
        }
        let set = Fields {
            end_ms: Some(now),
            ..Default::default()
        };
        self.transition(q.id, from, to, &reason, now, set).await
    }
}

impl Controller {
    /// Submits a copy of a preempted job that asked to be requeued; returns the new job's id.
    pub(super) async fn requeue(&mut self, id: JobId) -> Result<Option<JobId>, StoreError> {
        let row = self.store.job(id).await?;
        let Some(mut spec) = row.spec.clone() else {
            return Ok(None);
        };
        if !spec.requeue {
            return Ok(None);
        }
        spec.hold = false;
        let now = now_ms();
        let new = aisc_store::NewJob {
            owner: row.owner,
            spec: spec.clone(),
            reason: "Priority".into(),
            submit_ms: now,
            project: row.project,
            charging: row.charging,
        };
        let audit = aisc_store::NewAudit {
            at_ms: now,
            actor: "scheduler".into(),
            action: "job.requeue".into(),
            target: String::new(),
            summary: format!("requeued job {id} after preemption"),
            source: "local".into(),
        };
        let new_id = self.store.submit(new, audit).await?;
        self.core.queue.insert(Queued {
            id: new_id,
            user: row.owner_name,
            owner: row.owner,
            org: row.org,
            spec,
            held: false,
            project: row.project,
            charging: row.charging,
            submit_ms: now,
        });
        self.dirty = true;
        Ok(Some(new_id))
    }
}
