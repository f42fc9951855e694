//! A tenant's rows in every table of the schema, found from the schema itself rather than from
//! what the server declares: a row is the tenant's when any of its columns holds the tenant's
//! id (as a UUID, its text, its TypeID, or inside a JSON document or bytes) or its name, or
//! when it names, by a foreign key, a row that does.

use std::collections::BTreeMap;

use tenantry::domain::ids::TenantId;
use tenantry::store::{self, query};

use super::Database;

/// What marks a tenant's rows: its id in every form storage may hold it, and its name.
#[derive(Debug, Clone)]
pub struct Marks(Vec<String>);

impl Marks {
    /// The marks of the tenant `id` named `name` (keep names unique within a test).
    pub fn of(id: &str, name: &str) -> Marks {
        let tenant: TenantId = id.parse().expect("a tenant id");
        let uuid = tenantry::domain::ids::TypedId::uuid(tenant);
        let mut marks = Vec::new();
        for text in [id.to_owned(), uuid.to_string(), name.to_lowercase()] {
            marks.push(text.clone());
            // Bytes columns show as hex: SQLite's quote() in upper case, PostgreSQL in lower.
            let hex = hex::encode(text.as_bytes());
            marks.push(hex.to_uppercase());
            marks.push(hex);
        }
        // A UUID stored as 16 bytes (SQLite).
        marks.push(hex::encode_upper(uuid.as_bytes()));
        marks.push(hex::encode(uuid.as_bytes()));
        Marks(marks)
    }
}

/// A single-column foreign key: `column` of a table names `parent.target`.
struct ForeignKey {
    column: String,
    parent: String,
    target: String,
}

impl Database {
    /// Every table of the schema (SQLite's FTS shadow tables aside: they belong to their
    /// virtual table), sorted.
    pub async fn tables(&self) -> Vec<String> {
        let sql = match self.backend() {
            store::Backend::Sqlite => {
                "SELECT name FROM pragma_table_list WHERE schema = 'main' \
                 AND type IN ('table', 'virtual') AND name NOT LIKE 'sqlite_%' ORDER BY name"
            }
            store::Backend::Postgres => {
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 ORDER BY table_name"
            }
        };
        let tables: Vec<(String,)> = self
            .store()
            .reader()
            .fetch_all(query(sql))
            .await
            .expect("list the tables");
        tables.into_iter().map(|(table,)| table).collect()
    }

    /// How many rows of each table of the schema are marked by `marks`.
    pub async fn rows_of(&self, marks: &Marks) -> BTreeMap<String, i64> {
        let mut counts = BTreeMap::new();
        for table in self.tables().await {
            let mut predicate = self.marked(&table, "r", marks).await;
            for key in self.foreign_keys(&table).await {
                let parent = self.marked(&key.parent, "p", marks).await;
                predicate.push_str(&format!(
                    " OR EXISTS (SELECT 1 FROM \"{}\" p WHERE p.\"{}\" = r.\"{}\" AND ({parent}))",
                    key.parent, key.target, key.column
                ));
            }
            let sql = format!("SELECT COUNT(*) FROM \"{table}\" r WHERE {predicate}");
            let (count,): (i64,) = self
                .store()
                .reader()
                .fetch_one(query(sql))
                .await
                .unwrap_or_else(|error| panic!("count {table}: {error:?}"));
            counts.insert(table, count);
        }
        counts
    }

    /// The predicate that a row of `table`, as `alias`, holds one of `marks`.
    async fn marked(&self, table: &str, alias: &str, marks: &Marks) -> String {
        let text = match self.backend() {
            store::Backend::Sqlite => {
                let columns: Vec<String> = self
                    .columns(table)
                    .await
                    .iter()
                    .map(|column| format!("quote({alias}.\"{column}\")"))
                    .collect();
                format!("({})", columns.join(" || ',' || "))
            }
            store::Backend::Postgres => format!("{alias}::text"),
        };
        let function = match self.backend() {
            store::Backend::Sqlite => "instr",
            store::Backend::Postgres => "strpos",
        };
        let tests: Vec<String> = marks
            .0
            .iter()
            .map(|mark| format!("{function}({text}, '{mark}') > 0"))
            .collect();
        tests.join(" OR ")
    }

    /// The single-column foreign keys of `table`.
    async fn foreign_keys(&self, table: &str) -> Vec<ForeignKey> {
        let sql = match self.backend() {
            store::Backend::Sqlite => {
                "SELECT f.\"from\", f.\"table\", COALESCE(f.\"to\", 'id') \
                 FROM pragma_foreign_key_list($1) f \
                 WHERE (SELECT COUNT(*) FROM pragma_foreign_key_list($1) g WHERE g.id = f.id) = 1"
            }
            store::Backend::Postgres => {
                "SELECT a.attname::text, c.confrelid::regclass::text, t.attname::text \
                 FROM pg_constraint c \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
                 JOIN pg_attribute t ON t.attrelid = c.confrelid AND t.attnum = c.confkey[1] \
                 WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 \
                 AND c.conrelid = $1::regclass"
            }
        };
        let keys: Vec<(String, String, String)> = self
            .store()
            .reader()
            .fetch_all(query(sql).bind(table))
            .await
            .unwrap_or_else(|error| panic!("foreign keys of {table}: {error:?}"));
        keys.into_iter()
            .map(|(column, parent, target)| ForeignKey {
                column,
                parent,
                target,
            })
            .collect()
    }
}
