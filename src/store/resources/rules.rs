//! What resources need of others: the tenant settings they require, and the agents they
//! name. Each check runs inside the writer's transaction, after its write or before its delete.

use super::*;

/// A resource named in a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub kind: ResourceKind,
    pub id: Uuid,
    pub name: String,
}

#[derive(sqlx::FromRow)]
struct NamedRow {
    kind: String,
    id: Uuid,
    name: String,
}

fn named(rows: Vec<NamedRow>) -> Vec<Named> {
    rows.into_iter()
        .filter_map(|row| {
            Some(Named {
                kind: ResourceKind::from_name(&row.kind)?,
                id: row.id,
                name: row.name,
            })
        })
        .collect()
}

/// Refuses a tenant change, within its transaction and after its write, that switched off a
/// setting some of its resources need (SIP trunks need `sipEnabled`).
pub async fn check_required_settings(tx: &mut Tx, tenant_id: TenantId) -> StoreResult<()> {
    for kind in ResourceKind::all() {
        let Some(setting) = kind.info().requires else {
            continue;
        };
        let sql = format!(
            "SELECT r.kind, r.id, r.name FROM resources r JOIN tenants t ON t.id = r.tenant_id \
             WHERE r.tenant_id = $1 AND r.kind = $2 AND NOT t.{} ORDER BY r.id LIMIT 100",
            setting.column
        );
        let rows: Vec<NamedRow> = tx
            .fetch_all(query(sql).bind(tenant_id).bind(kind.name()))
            .await?;
        if !rows.is_empty() {
            return Err(StoreError::InUse {
                subject: setting.field,
                field: Some(setting.field),
                by: named(rows),
            });
        }
    }
    Ok(())
}

/// Refuses deleting an agent that resources name, within the deleting transaction.
pub async fn check_agent_unused(
    tx: &mut Tx,
    tenant_id: TenantId,
    agent_id: AgentId,
) -> StoreResult<()> {
    let rows: Vec<NamedRow> = tx
        .fetch_all(
            query(
                "SELECT r.kind, r.id, r.name FROM resource_agents a \
                 JOIN resources r ON r.tenant_id = a.tenant_id AND r.id = a.resource_id \
                 WHERE a.tenant_id = $1 AND a.agent_id = $2 ORDER BY r.id LIMIT 100",
            )
            .bind(tenant_id)
            .bind(agent_id),
        )
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    Err(StoreError::InUse {
        subject: "the agent",
        field: None,
        by: named(rows),
    })
}
