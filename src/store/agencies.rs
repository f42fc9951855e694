//! Agencies.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::{next_version, now, Db, StoreError, StoreResult};
use crate::domain::agency::Agency;
use crate::domain::ids::AgencyId;
use crate::{in_transaction, on_reader};

type Metadata = serde_json::Map<String, serde_json::Value>;

macro_rules! agency_columns {
    () => {
        "id, name, markup_percent, metadata, created_at, updated_at"
    };
}

#[derive(sqlx::FromRow)]
struct AgencyRow {
    id: AgencyId,
    name: String,
    markup_percent: i64,
    metadata: Json<Metadata>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<AgencyRow> for Agency {
    fn from(row: AgencyRow) -> Self {
        Agency {
            id: row.id,
            name: row.name,
            markup_percent: row.markup_percent,
            metadata: row.metadata.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// The editable fields of an agency.
#[derive(Debug, Clone)]
pub struct AgencyFields {
    pub name: String,
    pub markup_percent: i64,
    pub metadata: Metadata,
}

impl Db {
    /// Agencies in id (creation) order, after `after`.
    pub async fn list_agencies(
        &self,
        after: Option<AgencyId>,
        limit: i64,
    ) -> StoreResult<Vec<Agency>> {
        let rows: Vec<AgencyRow> = on_reader!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                agency_columns!(),
                " FROM agencies WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
            ))
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Agency::from).collect())
    }

    pub async fn find_agency(&self, id: AgencyId) -> StoreResult<Agency> {
        let row: Option<AgencyRow> = on_reader!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                agency_columns!(),
                " FROM agencies WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(Agency::from).ok_or(StoreError::NotFound)
    }

    pub async fn create_agency(&self, fields: &AgencyFields) -> StoreResult<Agency> {
        let row: AgencyRow = in_transaction!(self, |tx| {
            sqlx::query_as(concat!(
                "INSERT INTO agencies (",
                agency_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
                agency_columns!()
            ))
            .bind(AgencyId::generate())
            .bind(&fields.name)
            .bind(fields.markup_percent)
            .bind(Json(&fields.metadata))
            .bind(now())
            .fetch_one(&mut *tx)
            .await?
        });
        Ok(row.into())
    }

    /// Replaces an agency's fields unless `expected` (an `If-Match` version) is stale.
    pub async fn update_agency(
        &self,
        id: AgencyId,
        fields: &AgencyFields,
        expected: Option<DateTime<Utc>>,
        previous: DateTime<Utc>,
    ) -> StoreResult<Agency> {
        let row: Option<AgencyRow> = in_transaction!(self, |tx| {
            sqlx::query_as(concat!(
                "UPDATE agencies SET name = $2, markup_percent = $3, metadata = $4, updated_at = $5 \
                 WHERE id = $1 AND ($6 IS NULL OR updated_at = $6) RETURNING ",
                agency_columns!()
            ))
            .bind(id)
            .bind(&fields.name)
            .bind(fields.markup_percent)
            .bind(Json(&fields.metadata))
            .bind(next_version(previous))
            .bind(expected)
            .fetch_optional(&mut *tx)
            .await?
        });
        // The caller loaded the object first, so a missing row means the version moved on.
        row.map(Agency::from).ok_or(StoreError::Stale)
    }
}
