//! Value types parsed once, at the edge ("parse, don't validate"): a [`Slug`], an
//! [`EmailAddress`] or a [`PlanCode`] that exists is a valid one, so nothing past the parser
//! checks it again.

use std::fmt;

use super::validation::FieldProblem;

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_value!(
    /// A URL-safe handle: lower-case letters, digits and inner hyphens, 1 to 63 characters.
    Slug
);
text_value!(
    /// An e-mail address, as written; compare addresses with [`EmailAddress::normalized`].
    EmailAddress
);
text_value!(
    /// A plan's stable handle: 1 to 100 lower-case letters, digits, `_` or `-`.
    PlanCode
);
text_value!(
    /// A DNS host name in lower case (`app.example.com`): dot-separated labels of letters,
    /// digits and inner hyphens, at most 253 characters, with a top-level label that is not
    /// a number (so that no address passes for a name).
    HostName
);

/// The slug rule, shared by the parser and the OpenAPI schema.
pub const SLUG_PATTERN: &str = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$";

/// The plan code rule, shared with the OpenAPI schema.
pub const PLAN_CODE_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,99}$";

impl Slug {
    pub fn parse(text: &str) -> Result<Slug, FieldProblem> {
        let bytes = text.as_bytes();
        let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
        let ok = (1..=63).contains(&bytes.len())
            && bytes.iter().all(allowed)
            && bytes.first() != Some(&b'-')
            && bytes.last() != Some(&b'-');
        if ok {
            Ok(Slug(text.to_owned()))
        } else {
            Err(FieldProblem::new(
                "invalid_slug",
                "must be 1 to 63 lower-case letters, digits or inner hyphens",
            ))
        }
    }

    /// Derives a slug from a display name ("Acme Corp!" → "acme-corp").
    pub fn from_name(name: &str) -> Slug {
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
        let slug = slug.trim_end_matches('-');
        Slug(if slug.is_empty() { "tenant" } else { slug }.to_owned())
    }

    /// This slug with a suffix, shortened so that the whole stays a slug.
    pub fn with_suffix(&self, suffix: &str) -> Slug {
        let room = 63usize.saturating_sub(suffix.len() + 1);
        let base: String = self.0.chars().take(room).collect();
        Slug(format!("{}-{suffix}", base.trim_end_matches('-')))
    }
}

impl EmailAddress {
    /// The rule the OpenAPI schema states (`format: email`, at most 254 characters).
    pub fn parse(text: &str) -> Result<EmailAddress, FieldProblem> {
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
        // Mail is sent to it: it must be an address the sender accepts, too.
        super::email::parse_mailbox(text).map_err(|_| invalid())?;
        Ok(EmailAddress(text.to_owned()))
    }

    /// The address in lower case: one person's address however it was typed.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl PlanCode {
    pub fn parse(text: &str) -> Result<PlanCode, FieldProblem> {
        let bytes = text.as_bytes();
        let ok = (1..=100).contains(&bytes.len())
            && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-');
        if ok {
            Ok(PlanCode(text.to_owned()))
        } else {
            Err(FieldProblem::new(
                "invalid_code",
                "must be 1 to 100 lower-case letters, digits, '_' or '-'",
            ))
        }
    }

    /// The plan a tenant gets when none is named.
    pub fn free() -> PlanCode {
        PlanCode("free".to_owned())
    }
}

impl HostName {
    pub fn parse(text: &str) -> Result<HostName, FieldProblem> {
        let label_ok = |label: &str| {
            let bytes = label.as_bytes();
            (1..=63).contains(&bytes.len())
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                && bytes.first() != Some(&b'-')
                && bytes.last() != Some(&b'-')
        };
        let labels: Vec<&str> = text.split('.').collect();
        let top_is_name = labels
            .last()
            .is_some_and(|top| !top.bytes().all(|b| b.is_ascii_digit()));
        if text.len() <= 253
            && labels.len() >= 2
            && labels.iter().all(|l| label_ok(l))
            && top_is_name
        {
            Ok(HostName(text.to_owned()))
        } else {
            Err(FieldProblem::new(
                "invalid_host",
                "must be a lower-case host name such as app.example.com (at most 253 characters)",
            ))
        }
    }

    /// The name a request's `Host` header names: without its port or final dot, in lower
    /// case; `None` for an address or anything else that is no host name.
    pub fn of_host_header(host: &str) -> Option<HostName> {
        let host = host.trim();
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        HostName::parse(&name.trim_end_matches('.').to_ascii_lowercase()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_rule() {
        for good in ["a", "acme-corp", "0", "a1-b2", &"x".repeat(63)] {
            assert!(Slug::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "Acme", "a_b", "a b", "é", &"x".repeat(64)] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_suffixes_make_valid_slugs() {
        for name in [
            "Acme Corp",
            "  --Hello, World!-- ",
            "日本",
            "",
            &"Ab ".repeat(80),
        ] {
            let slug = Slug::from_name(name);
            assert!(Slug::parse(slug.as_str()).is_ok(), "{name:?} gave {slug}");
            let suffixed = slug.with_suffix("x7q2k0");
            assert!(Slug::parse(suffixed.as_str()).is_ok(), "{suffixed}");
        }
        assert_eq!(Slug::from_name("Acme Corp").as_str(), "acme-corp");
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        let email = EmailAddress::parse("Admin@Acme.com").unwrap();
        assert_eq!(email.as_str(), "Admin@Acme.com");
        assert_eq!(email.normalized(), "admin@acme.com");
        assert!(EmailAddress::parse("a@b").is_ok());
        for bad in ["", "admin", "@acme.com", "a@", "a b@c.d", "a@b..c", "a@.b"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plan_codes_follow_the_rule() {
        assert!(PlanCode::parse("enterprise_2").is_ok());
        for bad in ["", "Free", "-x", "a b", &"x".repeat(101)] {
            assert!(PlanCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_names_are_lower_case_dns_names() {
        for good in [
            "app.example.com",
            "a.b",
            "x-1.example.co.uk",
            "1password.com",
        ] {
            assert!(HostName::parse(good).is_ok(), "{good}");
        }
        let long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        for bad in [
            "",
            "localhost",
            "App.example.com",
            "-app.example.com",
            "app-.example.com",
            "app..example.com",
            "app.example.com.",
            "10.0.0.1",
            "app_1.example.com",
            "app.example.com:443",
            "*.example.com",
            &long,
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(HostName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_host_header_names_its_host_without_port_case_or_final_dot() {
        for header in [
            "App.Example.com",
            "app.example.com:8443",
            "app.example.com.",
        ] {
            let name = HostName::of_host_header(header).map(HostName::into_string);
            assert_eq!(name.as_deref(), Some("app.example.com"), "{header}");
        }
        for header in ["127.0.0.1:8080", "[::1]:8080", "localhost", ""] {
            assert_eq!(HostName::of_host_header(header), None, "{header}");
        }
    }
}
