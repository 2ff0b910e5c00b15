//! Nodes an administrator has drained. A node without a drain is up.

use crate::NewAudit;
use crate::Store;
use crate::error::StoreError;
use crate::writer::Op;
use sqlx::AnyConnection;

/// A drained node.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NodeDrain {
    /// The node.
    pub name: String,
    /// Why.
    pub reason: String,
    /// Who drained it.
    pub by_user: String,
    /// When (epoch ms).
    pub at_ms: i64,
}

pub(crate) async fn set_drain(
    tx: &mut AnyConnection,
    name: &str,
    drain: Option<&NodeDrain>,
) -> Result<i64, StoreError> {
    match drain {
        Some(d) => {
            sqlx::query(
                "INSERT INTO node_drains (name, reason, by_user, at_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT(name) DO UPDATE SET reason = excluded.reason,
               by_user = excluded.by_user, at_ms = excluded.at_ms",
            )
            .bind(&d.name)
            .bind(&d.reason)
            .bind(&d.by_user)
            .bind(d.at_ms)
            .execute(&mut *tx)
            .await?
        }
        None => {
            sqlx::query("DELETE FROM node_drains WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?
        }
    };
    Ok(0)
}

impl Store {
    /// Drains a node (`Some`) or resumes it (`None`), with the request's audit event.
    pub async fn set_node_drain(
        &self,
        name: &str,
        drain: Option<NodeDrain>,
        audit: NewAudit,
    ) -> Result<(), StoreError> {
        self.write(
            Op::NodeDrain {
                name: name.to_string(),
                drain,
            },
            Some(audit),
        )
        .await
        .map(|_| ())
    }

    /// Every drained node.
    pub async fn node_drains(&self) -> Result<Vec<NodeDrain>, StoreError> {
        Ok(
            sqlx::query_as("SELECT name, reason, by_user, at_ms FROM node_drains ORDER BY name")
                .fetch_all(&self.read)
                .await?,
        )
    }
}
