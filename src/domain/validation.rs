//! Field-level validation: value parsers ("parse, don't validate") and a collector of
//! violations, so one request reports every bad field at once.

/// One bad field in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The code of a value serde refused with `message`: a time or a date outside the accepted
/// years is `out_of_range`, like any other number out of its range.
pub fn value_code(message: &str) -> &'static str {
    if message.starts_with(super::time::OUT_OF_RANGE) {
        "out_of_range"
    } else {
        "invalid_value"
    }
}

impl FieldError {
    /// The field and code of a value serde refused at `path` (as `serde_path_to_error` prints
    /// it) with `message`: a missing field is `required`, an unknown one `unknown_field`, a
    /// time outside the accepted years `out_of_range`, anything else `invalid_value`.
    pub fn from_serde(path: &str, message: &str) -> FieldError {
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let (field, code) = match missing {
            Some(name) if path == "." => (name.to_owned(), "required"),
            Some(name) => (format!("{path}.{name}"), "required"),
            None if message.starts_with("unknown field") => (path.to_owned(), "unknown_field"),
            None => (path.to_owned(), value_code(message)),
        };
        FieldError {
            field: if field == "." {
                "body".to_owned()
            } else {
                field
            },
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }
}

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        });
    }

    /// A rule between two fields: the same violation on each, since changing either may
    /// satisfy it.
    pub fn between(&mut self, fields: [&str; 2], code: &str, message: impl Into<String>) {
        let message = message.into();
        for field in fields {
            self.add(field, code, message.clone());
        }
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

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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

/// Whether `text` is a URL [`parse_http_url`] accepts, and an `https` one.
pub fn is_https_url(text: &str) -> bool {
    parse_http_url(text).is_ok() && text.starts_with("https:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_are_told_apart() {
        assert!(is_https_url("https://hooks.example.com/x"));
        for not_https in ["http://hooks.example.com/x", "https://", "ftp://x.y", ""] {
            assert!(!is_https_url(not_https), "{not_https}");
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
