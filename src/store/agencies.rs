//! The agencies repository.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::audit::record_change;
use super::{json, now, query, versioned_change, Db, Query, StoreError, StoreResult};
use crate::domain::agency::{Agency, AgencyFields};
use crate::domain::ids::AgencyId;

const COLUMNS: &str = "id, name, markup_percent, metadata, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct AgencyRow {
    id: AgencyId,
    name: String,
    markup_percent: i64,
    metadata: Json<serde_json::Map<String, serde_json::Value>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<AgencyRow> for Agency {
    fn from(row: AgencyRow) -> Self {
        Agency {
            id: row.id,
            fields: AgencyFields {
                name: row.name,
                markup_percent: row.markup_percent,
                metadata: row.metadata.0,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// The statement of one page of agencies, in id (creation) order after `after`.
pub fn list_query(after: Option<AgencyId>, limit: i64) -> Query<'static> {
    let mut statement = query(format!("SELECT {COLUMNS} FROM agencies"));
    if let Some(after) = after {
        statement.push_sql(" WHERE id > ?", [after.into()]);
    }
    statement.push_sql(" ORDER BY id LIMIT ?", [limit.into()]);
    statement
}

pub async fn list(db: &Db, after: Option<AgencyId>, limit: i64) -> StoreResult<Vec<Agency>> {
    let rows: Vec<AgencyRow> = db.reader().fetch_all(list_query(after, limit)).await?;
    Ok(rows.into_iter().map(Agency::from).collect())
}

pub async fn find(db: &Db, id: AgencyId) -> StoreResult<Agency> {
    let sql = format!("SELECT {COLUMNS} FROM agencies WHERE id = $1");
    let row: Option<AgencyRow> = db.reader().fetch_optional(query(sql).bind(id)).await?;
    row.map(Agency::from).ok_or(StoreError::NotFound)
}

pub async fn create(db: &Db, fields: &AgencyFields) -> StoreResult<Agency> {
    let sql = format!(
        "INSERT INTO agencies ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $5) RETURNING {COLUMNS}"
    );
    let mut tx = db.begin().await?;
    let row: AgencyRow = tx
        .fetch_one(
            query(sql)
                .bind(AgencyId::generate())
                .bind(&fields.name)
                .bind(fields.markup_percent)
                .bind(json(&fields.metadata))
                .bind(now()),
        )
        .await?;
    let agency = Agency::from(row);
    record_change(&mut tx, "agency.created", None, Some(&agency)).await?;
    tx.commit().await?;
    Ok(agency)
}

/// Changes an agency under its row lock: `change` gets the current fields and returns the
/// new ones (or refuses them); `expected` is an `If-Match` version.
pub async fn update<E: From<StoreError>>(
    db: &Db,
    id: AgencyId,
    expected: Option<DateTime<Utc>>,
    change: impl FnOnce(&Agency) -> Result<AgencyFields, E>,
) -> Result<Agency, E> {
    let mut tx = db.begin().await?;
    let lock = tx.backend().lock_clause("agencies");
    let current: Agency = tx
        .fetch_optional::<AgencyRow>(
            query(format!(
                "SELECT {COLUMNS} FROM agencies WHERE id = $1{lock}"
            ))
            .bind(id),
        )
        .await?
        .ok_or(StoreError::NotFound)?
        .into();
    let fields = change(&current)?;
    let version = versioned_change(expected, current.updated_at)?;
    let sql = format!(
        "UPDATE agencies SET name = $2, markup_percent = $3, metadata = $4, updated_at = $5 \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row: AgencyRow = tx
        .fetch_one(
            query(sql)
                .bind(id)
                .bind(&fields.name)
                .bind(fields.markup_percent)
                .bind(json(&fields.metadata))
                .bind(version),
        )
        .await?;
    let agency = Agency::from(row);
    record_change(&mut tx, "agency.updated", Some(&current), Some(&agency)).await?;
    tx.commit().await?;
    Ok(agency)
}

/// Whether the agency exists.
pub async fn exists(db: &Db, id: AgencyId) -> StoreResult<bool> {
    let found: Option<(AgencyId,)> = db
        .reader()
        .fetch_optional(query("SELECT id FROM agencies WHERE id = $1").bind(id))
        .await?;
    Ok(found.is_some())
}
