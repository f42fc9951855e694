//! Field-level validation: value parsers ("parse, don't validate") and a collector of
//! violations, so one request reports every bad field at once.

use serde::Serialize;
use utoipa::ToSchema;

/// One bad field in a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON path of the field, e.g. `usageLimits.maxConcurrentCalls` or `events[3].id`.
    pub field: String,
    /// Stable machine code, e.g. `out_of_range`.
    pub code: String,
    pub message: String,
}

/// Collects violations while a request is checked.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldError>);

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        });
    }

    pub fn range(&mut self, field: &str, value: i64, min: i64, max: i64) {
        if !(min..=max).contains(&value) {
            self.add(
                field,
                "out_of_range",
                format!("must be between {min} and {max}"),
            );
        }
    }

    /// Checks a length in characters (as JSON Schema counts them).
    pub fn length(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let count = value.chars().count();
        if count < min || count > max {
            self.add(
                field,
                "invalid_length",
                format!("must be {min} to {max} characters long"),
            );
        }
    }

    /// Records the error of a parser, if any, and passes its value on.
    pub fn parsed<T>(&mut self, field: &str, result: Result<T, FieldProblem>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(problem) => {
                self.add(field, problem.code, problem.message);
                None
            }
        }
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self.0)
        }
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }
}

/// What a value parser says is wrong, without the field name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub code: &'static str,
    pub message: String,
}

impl FieldProblem {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The slug rule, shared by the parser and the OpenAPI schema.
pub const SLUG_PATTERN: &str = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$";

/// A URL-safe handle: lower-case letters, digits and inner hyphens, 1 to 63 characters.
pub fn parse_slug(text: &str) -> Result<String, FieldProblem> {
    let bytes = text.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    let ok = (1..=63).contains(&bytes.len())
        && bytes.iter().all(allowed)
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-');
    if ok {
        Ok(text.to_owned())
    } else {
        Err(FieldProblem::new(
            "invalid_slug",
            "must be 1 to 63 lower-case letters, digits or inner hyphens",
        ))
    }
}

/// Derives a slug from a display name ("Acme Corp!" → "acme-corp").
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 63 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "tenant".to_owned()
    } else {
        slug
    }
}

/// The e-mail rule the OpenAPI schema states (`format: email`, at most 254 characters).
pub fn parse_email(text: &str) -> Result<String, FieldProblem> {
    let invalid = || FieldProblem::new("invalid_email", "must be an e-mail address");
    if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = text.rsplit_once('@').ok_or_else(invalid)?;
    let domain_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63 && !label.contains('@'));
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(invalid());
    }
    Ok(text.to_owned())
}

/// The webhook URL rule: absolute `http` or `https` with a host.
pub const HTTP_URL_PATTERN: &str = "^https?://";

pub fn parse_http_url(text: &str) -> Result<String, FieldProblem> {
    let invalid = || FieldProblem::new("invalid_url", "must be an absolute http or https URL");
    if text.len() > 2048 {
        return Err(FieldProblem::new(
            "invalid_length",
            "must be at most 2048 characters",
        ));
    }
    let url = url::Url::parse(text).map_err(|_| invalid())?;
    let scheme_ok = matches!(url.scheme(), "http" | "https");
    if !scheme_ok || url.host_str().is_none_or(str::is_empty) || !text.starts_with(url.scheme()) {
        return Err(invalid());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_rule() {
        for good in ["a", "acme-corp", "0", "a1-b2", &"x".repeat(63)] {
            assert!(parse_slug(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "Acme", "a_b", "a b", "é", &"x".repeat(64)] {
            assert!(parse_slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugify_makes_valid_slugs() {
        for name in [
            "Acme Corp",
            "  --Hello, World!-- ",
            "日本",
            "",
            &"Ab ".repeat(80),
        ] {
            let slug = slugify(name);
            assert!(parse_slug(&slug).is_ok(), "{name:?} gave {slug:?}");
        }
        assert_eq!(slugify("Acme Corp"), "acme-corp");
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert!(parse_email("admin@acme.com").is_ok());
        assert!(parse_email("a@b").is_ok());
        for bad in ["", "admin", "@acme.com", "a@", "a b@c.d", "a@b..c", "a@.b"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn webhook_urls_are_http() {
        assert!(parse_http_url("https://hooks.example.com/x?y=1").is_ok());
        for bad in [
            "",
            "ftp://x.y",
            "hooks.example.com",
            "https://",
            "javascript:alert(1)",
        ] {
            assert!(parse_http_url(bad).is_err(), "{bad}");
        }
    }
}
