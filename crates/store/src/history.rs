//! What happened over time, for charts: GPUs busy, subsidy spent, a project's
//! usage by month. Read-only aggregates over jobs and the ledger.

use crate::Store;
use crate::error::StoreError;

/// One job's GPUs over the time it ran (or has run so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuInterval {
    /// GPUs held.
    pub gpus: u32,
    /// Started (epoch ms).
    pub start_ms: i64,
    /// Ended, or `None` while it runs.
    pub end_ms: Option<i64>,
}

/// GPU-milliseconds busy in each of `buckets` equal slices of `[from_ms, to_ms)`;
/// a running job counts up to `to_ms`. Pure, so that it is tested on its own.
pub fn busy_gpu_ms(
    intervals: &[GpuInterval],
    from_ms: i64,
    to_ms: i64,
    buckets: usize,
) -> Vec<i64> {
    let mut out = vec![0i64; buckets];
    if buckets == 0 || to_ms <= from_ms {
        return out;
    }
    let n = buckets as i64;
    let width = ((to_ms - from_ms + n - 1) / n).max(1);
    for iv in intervals {
        let start = iv.start_ms.max(from_ms);
        let end = iv.end_ms.unwrap_or(to_ms).min(to_ms);
        if end <= start || iv.gpus == 0 {
            continue;
        }
        let first = ((start - from_ms) / width) as usize;
        let last = (((end - 1 - from_ms) / width) as usize).min(buckets - 1);
        for (b, slot) in out.iter_mut().enumerate().take(last + 1).skip(first) {
            let lo = from_ms + b as i64 * width;
            let hi = (lo + width).min(to_ms);
            let overlap = end.min(hi) - start.max(lo);
            if overlap > 0 {
                *slot += overlap * i64::from(iv.gpus);
            }
        }
    }
    out
}

impl Store {
    /// Jobs that held GPUs at some time in `[from_ms, to_ms)`: those that ended
    /// inside or after it (by `jobs_by_end`) and those still running (by
    /// `jobs_by_state`), so that older jobs are never read.
    pub async fn gpu_intervals(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<GpuInterval>, StoreError> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT gpus, start_ms, end_ms FROM jobs
                 WHERE end_ms > $2 AND start_ms IS NOT NULL AND start_ms < $1 AND gpus > 0
                 UNION ALL
                 SELECT gpus, start_ms, NULL FROM jobs
                 WHERE state IN {} AND end_ms IS NULL
                   AND start_ms IS NOT NULL AND start_ms < $1 AND gpus > 0",
                crate::jobs::sql_states(&aisc_model::JobState::PLACED)
            )
        });
        let rows: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(SQL.as_str())
            .bind(to_ms)
            .bind(from_ms)
            .fetch_all(&self.read)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(gpus, start_ms, end_ms)| GpuInterval {
                gpus: u32::try_from(gpus).unwrap_or(0),
                start_ms,
                end_ms,
            })
            .collect())
    }

    /// Subsidy spent from a scheme's grants per Hong Kong day, oldest first:
    /// (the day's last entry, epoch ms; HK cents, net of refunds).
    pub async fn scheme_spending_by_day(&self, scheme: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        // Driven from the scheme's grants through `postings_by_account`: only these
        // accounts' postings are read, never the whole ledger's. SQLite's CROSS JOIN
        // fixes its join order; PostgreSQL plans the plain join the same way.
        macro_rules! by_day {
            ($join:literal) => {
                concat!(
                    "SELECT MAX(e.at_ms), CAST(SUM(p.amount) AS BIGINT) FROM grants g ",
                    $join,
                    " ledger_postings p ON p.account = 'grant/' || g.id || '/subsidy-spent' ",
                    $join,
                    " ledger_entries e ON e.id = p.entry_id \
                     WHERE g.scheme_id = $1 \
                     GROUP BY (e.at_ms + 28800000) / 86400000 ORDER BY 1"
                )
            };
        }
        let sql = match self.backend {
            crate::Backend::Sqlite => by_day!("CROSS JOIN"),
            crate::Backend::Postgres => by_day!("JOIN"),
        };
        Ok(sqlx::query_as(sql)
            .bind(scheme)
            .fetch_all(&self.read)
            .await?)
    }

    /// A project's finished jobs by month of their end (UTC+8, Hong Kong):
    /// (`YYYY-MM`, GPU-milliseconds, jobs), oldest month first.
    pub async fn monthly_usage(
        &self,
        project: aisc_model::ProjectId,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        macro_rules! monthly {
            ($month:literal) => {
                concat!(
                    "SELECT ",
                    $month,
                    " AS month, COALESCE(CAST(SUM(gpu_ms) AS BIGINT), 0), COUNT(*) \
                     FROM jobs WHERE project_id = $1 AND end_ms IS NOT NULL \
                     GROUP BY month ORDER BY month"
                )
            };
        }
        let sql = match self.backend {
            crate::Backend::Sqlite => {
                monthly!("strftime('%Y-%m', (end_ms + 28800000) / 1000, 'unixepoch')")
            }
            crate::Backend::Postgres => monthly!(
                "to_char(to_timestamp((end_ms + 28800000) / 1000) AT TIME ZONE 'UTC', 'YYYY-MM')"
            ),
        };
        Ok(sqlx::query_as(sql)
            .bind(project.0)
            .fetch_all(&self.read)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_job_is_split_across_the_buckets_it_spans() {
        let iv = [GpuInterval {
            gpus: 2,
            start_ms: 50,
            end_ms: Some(250),
        }];
        assert_eq!(busy_gpu_ms(&iv, 0, 400, 4), vec![100, 200, 100, 0]);
    }

    #[test]
    fn a_running_job_counts_up_to_now_and_nothing_outside_the_window() {
        let iv = [
            GpuInterval {
                gpus: 1,
                start_ms: 300,
                end_ms: None,
            },
            GpuInterval {
                gpus: 8,
                start_ms: -500,
                end_ms: Some(-1),
            },
        ];
        assert_eq!(busy_gpu_ms(&iv, 0, 400, 2), vec![0, 100]);
    }

    proptest! {
        /// The buckets add up to the GPU-time inside the window, whatever the jobs.
        #[test]
        fn buckets_sum_to_the_time_inside_the_window(
            jobs in prop::collection::vec((0u32..9, -1_000i64..5_000, 0i64..3_000, any::<bool>()), 0..40),
            buckets in 1usize..50,
        ) {
            let (from, to) = (0, 4_000);
            let iv: Vec<GpuInterval> = jobs.iter().map(|&(gpus, start, len, running)| GpuInterval {
                gpus, start_ms: start, end_ms: (!running).then_some(start + len),
            }).collect();
            let want: i64 = iv.iter().map(|j| {
                let end = j.end_ms.unwrap_or(to).min(to);
                (end - j.start_ms.max(from)).max(0) * i64::from(j.gpus)
            }).sum();
            let got = busy_gpu_ms(&iv, from, to, buckets);
            prop_assert_eq!(got.len(), buckets);
            prop_assert_eq!(got.iter().sum::<i64>(), want);
        }
    }
}
