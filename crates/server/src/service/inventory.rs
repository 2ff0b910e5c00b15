//! Inventory: the use cases the portal and the API share.

use super::{Found, ServiceError};
use crate::AppState;
use crate::auth::Caller;
use crate::clock::now_ms;
use crate::policy::{Access, Resource, authorize};
use crate::service::views::rfc3339;
use aisc_api::inventory::{
    CapacityView, ClassRequest, ClassView, NodesRequest, PriceRequest, PriceView,
};
use aisc_billing::money::Cents;
use aisc_model::inventory::capacity;
use aisc_model::inventory::{Peak, ResourceClass, check_class};
use aisc_store::ClassRow;
use aisc_store::InventoryChange;

pub(crate) async fn class_by_name(state: &AppState, name: &str) -> Result<ClassRow, ServiceError> {
    state
        .store
        .class(name)
        .await
        .or_404(|| format!("resource class {name}"))
}

pub(crate) async fn view(state: &AppState, row: ClassRow) -> Result<ClassView, ServiceError> {
    let price = state.store.price_at(row.id, now_ms()).await?;
    let c = row.class;
    Ok(ClassView {
        gpus: c.gpus(),
        name: c.name,
        gpu_model: c.gpu_model,
        gpus_per_node: c.gpus_per_node,
        cpus_per_node: c.cpus_per_node,
        mem_mb_per_node: c.mem_mb_per_node,
        tflops: [c.peak.fp64, c.peak.fp32, c.peak.bf16, c.peak.fp8],
        nodes: c.nodes,
        price_per_gpu_hour: price.map(|p| Cents(p.cents_per_gpu_hour).to_string()),
        price_cents: price.map(|p| p.cents_per_gpu_hour),
    })
}

/// Resource classes, with the price in force now.
pub async fn list_classes(
    state: &AppState,
    _caller: &Caller,
) -> Result<Vec<ClassView>, ServiceError> {
    let mut out = Vec::new();
    for row in state.store.classes().await? {
        out.push(view(state, row).await?);
    }
    Ok(out)
}

/// The centre's peak capacity, summed over the inventory.
pub async fn get_capacity(
    state: &AppState,
    _caller: &Caller,
) -> Result<CapacityView, ServiceError> {
    let rows = state.store.classes().await?;
    let c = capacity(rows.iter().map(|r| &r.class));
    Ok(CapacityView {
        gpus: c.gpus,
        pflops_fp64: c.fp64,
        pflops_fp32: c.fp32,
        pflops_bf16: c.bf16,
        pflops_fp8: c.fp8,
        classes: rows.len(),
    })
}

/// Add a resource class (centre administrators).
pub async fn create_class(
    state: &AppState,
    caller: &Caller,
    req: ClassRequest,
) -> Result<ClassView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    let mem = aisc_model::units::parse_mem_mb(&req.mem_per_node).map_err(|e| {
        ServiceError::invalid("mem_per_node", e.to_string(), Some("1M to 64T".into()))
    })?;
    let rc = ResourceClass {
        name: req.name,
        gpu_model: req.gpu_model,
        gpus_per_node: req.gpus_per_node,
        cpus_per_node: req.cpus_per_node,
        mem_mb_per_node: mem,
        peak: Peak {
            fp64: req.tflops_fp64,
            fp32: req.tflops_fp32,
            bf16: req.tflops_bf16,
            fp8: req.tflops_fp8,
        },
        nodes: req.nodes,
    };
    check_class(&rc).map_err(|(field, limit)| {
        ServiceError::invalid(field, format!("out of range ({limit})"), Some(limit))
    })?;
    let audit = caller.audit(
        "class.create",
        format!("class:{}", rc.name),
        format!(
            "{} x {} {} per node, {} nodes",
            rc.gpus_per_node, rc.gpu_model, rc.name, rc.nodes
        ),
    );
    let name = rc.name.clone();
    state
        .store
        .inventory(InventoryChange::CreateClass(rc, now_ms()), audit)
        .await?;
    let row = class_by_name(state, &name).await?;
    view(state, row).await
}

/// Change how many nodes of a class the centre has (centre administrators).
pub async fn set_nodes(
    state: &AppState,
    caller: &Caller,
    class: String,
    req: NodesRequest,
) -> Result<ClassView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    let before = class_by_name(state, &class).await?;
    if req.nodes > 100_000 {
        return Err(ServiceError::invalid(
            "nodes",
            "out of range",
            Some("0 to 100000".into()),
        ));
    }
    let audit = caller.audit(
        "class.nodes",
        format!("class:{class}"),
        format!("nodes {} -> {}", before.class.nodes, req.nodes),
    );
    state
        .store
        .inventory(
            InventoryChange::SetNodes {
                class: class.clone(),
                nodes: req.nodes,
            },
            audit,
        )
        .await?;
    view(state, class_by_name(state, &class).await?).await
}

/// Set a class's price from a date (centre administrators). A price for the same date replaces it.
pub async fn set_price(
    state: &AppState,
    caller: &Caller,
    class: String,
    req: PriceRequest,
) -> Result<PriceView, ServiceError> {
    authorize(caller, Access::Manage, Resource::Centre)?;
    class_by_name(state, &class).await?;
    let price = Cents::parse_hkd(&req.per_gpu_hour)
        .map_err(|e| ServiceError::invalid("per_gpu_hour", e, None))?;
    if price < Cents::ZERO || price > Cents(10_000_000) {
        return Err(ServiceError::invalid(
            "per_gpu_hour",
            "out of range",
            Some("HK$0.00 to HK$100,000.00".into()),
        ));
    }
    let effective = aisc_model::calendar::parse_date(&req.effective)
        .map_err(|e| ServiceError::invalid("effective", e, None))?;
    let audit = caller.audit(
        "price.set",
        format!("class:{class}"),
        format!("{price} per GPU-hour from {}", req.effective),
    );
    let change = InventoryChange::SetPrice {
        class,
        cents_per_gpu_hour: price.0,
        effective_ms: effective,
        at_ms: now_ms(),
    };
    state.store.inventory(change, audit).await?;
    state.charging.clear();
    Ok(PriceView {
        per_gpu_hour: price.to_string(),
        cents: price.0,
        effective_at: rfc3339(effective),
    })
}

/// A class's prices, the newest first (any signed-in user).
pub async fn list_prices(
    state: &AppState,
    class: &str,
) -> Result<Vec<aisc_api::inventory::PriceView>, ServiceError> {
    let row = class_by_name(state, class).await?;
    let prices = state.store.prices(row.id).await?;
    Ok(prices
        .into_iter()
        .map(|p| aisc_api::inventory::PriceView {
            per_gpu_hour: aisc_billing::money::Cents(p.cents_per_gpu_hour).to_string(),
            cents: p.cents_per_gpu_hour,
            effective_at: rfc3339(p.effective_ms),
        })
        .collect())
}
