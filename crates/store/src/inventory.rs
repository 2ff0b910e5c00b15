//! Resource classes, the node inventory and the price list.

use crate::Store;
use crate::audit::NewAudit;
use crate::error::StoreError;
use crate::sql::RowExt as _;
use crate::writer::Op;
use aisc_model::inventory::{Peak, ResourceClass};
use sqlx::{AnyConnection, Row};

/// A stored class with its id.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassRow {
    /// Id.
    pub id: i64,
    /// The class.
    pub class: ResourceClass,
    /// Created at.
    pub created_ms: i64,
}

/// One price of a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceRow {
    /// HK cents per GPU-hour.
    pub cents_per_gpu_hour: i64,
    /// In force from (epoch ms).
    pub effective_ms: i64,
}

/// A change to the inventory or the price list.
#[derive(Debug, Clone, PartialEq)]
pub enum InventoryChange {
    /// A new class.
    CreateClass(ResourceClass, i64),
    /// A class's node count changes (nodes bought or retired).
    SetNodes {
        /// Class name.
        class: String,
        /// Nodes now.
        nodes: u32,
    },
    /// A price in force from a time.
    SetPrice {
        /// Class name.
        class: String,
        /// HK cents per GPU-hour.
        cents_per_gpu_hour: i64,
        /// From.
        effective_ms: i64,
        /// Recorded at.
        at_ms: i64,
    },
}

async fn class_id(conn: &mut AnyConnection, name: &str) -> Result<i64, StoreError> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM resource_classes WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    id.ok_or(StoreError::NotFound)
}

pub(crate) async fn apply(
    conn: &mut AnyConnection,
    c: &InventoryChange,
) -> Result<i64, StoreError> {
    match c {
        InventoryChange::CreateClass(rc, at_ms) => sqlx::query_scalar(
            "INSERT INTO resource_classes (name, gpu_model, gpus_per_node, cpus_per_node, mem_mb_per_node, \
             tflops_fp64, tflops_fp32, tflops_bf16, tflops_fp8, nodes, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&rc.name)
        .bind(&rc.gpu_model)
        .bind(i64::from(rc.gpus_per_node))
        .bind(i64::from(rc.cpus_per_node))
        .bind(i64::try_from(rc.mem_mb_per_node).unwrap_or(i64::MAX))
        .bind(rc.peak.fp64)
        .bind(rc.peak.fp32)
        .bind(rc.peak.bf16)
        .bind(rc.peak.fp8)
        .bind(i64::from(rc.nodes))
        .bind(at_ms)
        .fetch_one(conn)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Exists("a resource class with this name"),
            _ => StoreError::Db(e),
        }),
        InventoryChange::SetNodes { class, nodes } => {
            let id = class_id(conn, class).await?;
            sqlx::query("UPDATE resource_classes SET nodes = $1 WHERE id = $2").bind(i64::from(*nodes)).bind(id).execute(conn).await?;
            Ok(id)
        }
        InventoryChange::SetPrice { class, cents_per_gpu_hour, effective_ms, at_ms } => {
            let id = class_id(conn, class).await?;
            sqlx::query(
                "INSERT INTO prices (class_id, cents_per_gpu_hour, effective_ms, created_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (class_id, effective_ms) DO UPDATE SET cents_per_gpu_hour = excluded.cents_per_gpu_hour",
            )
            .bind(id)
            .bind(cents_per_gpu_hour)
            .bind(effective_ms)
            .bind(at_ms)
            .execute(conn)
            .await?;
            Ok(id)
        }
    }
}

fn class_row(r: &sqlx::any::AnyRow) -> Result<ClassRow, StoreError> {
    Ok(ClassRow {
        id: r.try_get("id")?,
        created_ms: r.try_get("created_ms")?,
        class: ResourceClass {
            name: r.try_get("name")?,
            gpu_model: r.try_get("gpu_model")?,
            gpus_per_node: r.num("gpus_per_node")?,
            cpus_per_node: r.num("cpus_per_node")?,
            mem_mb_per_node: u64::try_from(r.try_get::<i64, _>("mem_mb_per_node")?).unwrap_or(0),
            peak: Peak {
                fp64: r.try_get("tflops_fp64")?,
                fp32: r.try_get("tflops_fp32")?,
                bf16: r.try_get("tflops_bf16")?,
                fp8: r.try_get("tflops_fp8")?,
            },
            nodes: r.num("nodes")?,
        },
    })
}

const CLASS_COLUMNS: &str = "SELECT id, name, gpu_model, gpus_per_node, cpus_per_node, mem_mb_per_node, tflops_fp64, \
     tflops_fp32, tflops_bf16, tflops_fp8, nodes, created_ms FROM resource_classes";

impl Store {
    /// Applies an inventory or price change with its audit event.
    pub async fn inventory(
        &self,
        change: InventoryChange,
        audit: NewAudit,
    ) -> Result<i64, StoreError> {
        self.write(Op::Inventory(change), Some(audit)).await
    }

    /// Every class, by name.
    pub async fn classes(&self) -> Result<Vec<ClassRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CLASS_COLUMNS} ORDER BY name"
        )))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(class_row).collect()
    }

    /// A class by name.
    pub async fn class(&self, name: &str) -> Result<ClassRow, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CLASS_COLUMNS} WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(class_row).ok_or(StoreError::NotFound)?
    }

    /// A class's prices, newest first.
    pub async fn prices(&self, class_id: i64) -> Result<Vec<PriceRow>, StoreError> {
        let rows = sqlx::query("SELECT cents_per_gpu_hour, effective_ms FROM prices WHERE class_id = $1 ORDER BY effective_ms DESC")
            .bind(class_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PriceRow {
                    cents_per_gpu_hour: r.try_get("cents_per_gpu_hour")?,
                    effective_ms: r.try_get("effective_ms")?,
                })
            })
            .collect()
    }

    /// The price in force at `at_ms`: the latest one effective at or before it.
    pub async fn price_at(
        &self,
        class_id: i64,
        at_ms: i64,
    ) -> Result<Option<PriceRow>, StoreError> {
        let row = sqlx::query(
            "SELECT cents_per_gpu_hour, effective_ms FROM prices WHERE class_id = $1 AND effective_ms <= $2 \
             ORDER BY effective_ms DESC LIMIT 1",
        )
        .bind(class_id)
        .bind(at_ms)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(PriceRow {
                cents_per_gpu_hour: r.try_get("cents_per_gpu_hour")?,
                effective_ms: r.try_get("effective_ms")?,
            })
        })
        .transpose()
    }
}
