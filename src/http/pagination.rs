//! Cursor pagination: opaque cursors that resume after the last row by its sort key, so any
//! page costs the same as the first.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
/// The longest cursor accepted (as documented).
pub const MAX_CURSOR_LEN: usize = 1024;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each item turned into its wire shape.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }

    /// Builds a page from up to `limit + 1` rows: the extra row only says another page exists.
    pub fn from_rows<K: Serialize>(
        mut rows: Vec<T>,
        limit: i64,
        key_of: impl Fn(&T) -> K,
    ) -> Page<T> {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|last| encode_cursor(&key_of(last)))
        } else {
            None
        };
        Page {
            data: rows,
            next_cursor,
        }
    }
}

/// `limit` and `cursor`, shared by every list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

impl PageParams {
    /// The checked page size.
    pub fn limit(&self) -> Result<i64, ApiError> {
        page_limit(self.limit)
    }

    /// The decoded cursor, if any.
    pub fn after<K: DeserializeOwned>(&self) -> Result<Option<K>, ApiError> {
        self.cursor.as_deref().map(decode_cursor).transpose()
    }
}

/// A requested page size, checked against 1 to 100; absent means the default.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::field(
            "limit",
            "out_of_range",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    let json = serde_json::to_vec(key).expect("cursor keys serialize");
    URL_SAFE_NO_PAD.encode(json)
}

pub fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> Result<K, ApiError> {
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(ApiError::field(
            "cursor",
            "invalid_length",
            format!("must be at most {MAX_CURSOR_LEN} characters"),
        ));
    }
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(|| {
            ApiError::field(
                "cursor",
                "invalid_cursor",
                "is not a cursor this list returned",
            )
        })
}
