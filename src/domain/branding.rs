//! White-label branding: how a console looks (Voisnap's white-label fields) and the contact
//! details Trieve keeps as an organization's `partner_configuration`, in one record. Records
//! are laid over each other field by field: a tenant's own over its agency's over the
//! platform's default.

use serde_json::{Map, Value};

use super::access::Scope;
use super::audit::{Audited, Fields, Holder, Target};
use super::validation::{parse_http_url, FieldError, FieldProblem, Violations};
use super::values::{EmailAddress, HostName};

/// A brand's colors, each a hex color (`#0ea5e9`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Colors {
    pub primary: Option<String>,
    pub primary_foreground: Option<String>,
    pub secondary: Option<String>,
    pub accent: Option<String>,
    pub background: Option<String>,
    pub foreground: Option<String>,
}

/// A branding record; every field may be unset, and an unset field shows the one beneath.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branding {
    pub company_name: Option<String>,
    pub logo_url: Option<String>,
    pub logomark_url: Option<String>,
    pub favicon_url: Option<String>,
    pub font_family: Option<String>,
    pub company_url: Option<String>,
    pub demo_domain: Option<String>,
    pub calendar_link: Option<String>,
    pub slack_link: Option<String>,
    pub linkedin_link: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub colors: Colors,
}

/// One field of a branding record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    CompanyName,
    CompanyUrl,
    LogoUrl,
    LogomarkUrl,
    FaviconUrl,
    FontFamily,
    DemoDomain,
    CalendarLink,
    SlackLink,
    LinkedinLink,
    Email,
    Phone,
    Primary,
    PrimaryForeground,
    Secondary,
    Accent,
    Background,
    Foreground,
}

/// What a field's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// 1 to `max` characters, no control characters.
    Text(usize),
    /// A CSS font family (or stack): 1 to 100 characters that cannot leave the declaration.
    Font,
    /// An absolute `https` URL.
    Https,
    /// `#rgb`, `#rrggbb` or `#rrggbbaa`.
    Color,
    Email,
    Host,
    /// Digits with `+`, spaces, `-`, `.` and parentheses.
    Phone,
}

/// A field's names and rule.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Its v1 name, dotted below `colors` (`colors.primary`).
    pub wire: &'static str,
    /// Its column in the branding tables.
    pub column: &'static str,
    rule: Rule,
    /// Trieve's `partner_configuration` key and the value Trieve shows when it is unset.
    pub partner: Option<(&'static str, &'static str)>,
}

impl Field {
    pub const ALL: [Field; 18] = [
        Field::CompanyName,
        Field::CompanyUrl,
        Field::LogoUrl,
        Field::LogomarkUrl,
        Field::FaviconUrl,
        Field::FontFamily,
        Field::DemoDomain,
        Field::CalendarLink,
        Field::SlackLink,
        Field::LinkedinLink,
        Field::Email,
        Field::Phone,
        Field::Primary,
        Field::PrimaryForeground,
        Field::Secondary,
        Field::Accent,
        Field::Background,
        Field::Foreground,
    ];

    pub fn spec(self) -> Spec {
        let spec = |wire, column, rule, partner| Spec {
            wire,
            column,
            rule,
            partner,
        };
        match self {
            Field::CompanyName => spec(
                "companyName",
                "company_name",
                Rule::Text(255),
                Some(("COMPANY_NAME", "Trieve")),
            ),
            Field::CompanyUrl => spec(
                "companyUrl",
                "company_url",
                Rule::Https,
                Some(("COMPANY_URL", "https://trieve.ai")),
            ),
            Field::LogoUrl => spec("logoUrl", "logo_url", Rule::Https, None),
            Field::LogomarkUrl => spec("logomarkUrl", "logomark_url", Rule::Https, None),
            Field::FaviconUrl => spec(
                "faviconUrl",
                "favicon_url",
                Rule::Https,
                Some(("FAVICON_URL", "https://cdn.trieve.ai/favicon.ico")),
            ),
            Field::FontFamily => spec("fontFamily", "font_family", Rule::Font, None),
            Field::DemoDomain => spec(
                "demoDomain",
                "demo_domain",
                Rule::Host,
                Some(("DEMO_DOMAIN", "demos.trieve.ai")),
            ),
            Field::CalendarLink => spec(
                "calendarLink",
                "calendar_link",
                Rule::Https,
                Some(("CALENDAR_LINK", "")),
            ),
            Field::SlackLink => spec(
                "slackLink",
                "slack_link",
                Rule::Https,
                Some(("SLACK_LINK", "")),
            ),
            Field::LinkedinLink => spec(
                "linkedinLink",
                "linkedin_link",
                Rule::Https,
                Some(("LINKEDIN_LINK", "")),
            ),
            Field::Email => spec("email", "email", Rule::Email, Some(("EMAIL", ""))),
            Field::Phone => spec("phone", "phone", Rule::Phone, Some(("PHONE", ""))),
            Field::Primary => spec("colors.primary", "color_primary", Rule::Color, None),
            Field::PrimaryForeground => spec(
                "colors.primaryForeground",
                "color_primary_foreground",
                Rule::Color,
                None,
            ),
            Field::Secondary => spec("colors.secondary", "color_secondary", Rule::Color, None),
            Field::Accent => spec("colors.accent", "color_accent", Rule::Color, None),
            Field::Background => spec("colors.background", "color_background", Rule::Color, None),
            Field::Foreground => spec("colors.foreground", "color_foreground", Rule::Color, None),
        }
    }

    /// Whether `text` is a value this field may hold.
    pub fn check(self, text: &str) -> Result<(), FieldProblem> {
        match self.spec().rule {
            Rule::Text(max) => {
                let count = text.chars().count();
                if count == 0 || count > max || text.chars().any(char::is_control) {
                    return Err(FieldProblem::new(
                        "invalid_length",
                        format!("must be 1 to {max} characters, none of them control characters"),
                    ));
                }
            }
            Rule::Font => {
                let bad = |c: char| c.is_control() || matches!(c, ';' | '{' | '}' | '<' | '>');
                let count = text.chars().count();
                if count == 0 || count > 100 || text.chars().any(bad) {
                    return Err(FieldProblem::new(
                        "invalid_font",
                        "must be a font family (or a comma-separated stack) of 1 to 100 \
                         characters, without ; { } < >",
                    ));
                }
            }
            Rule::Https => {
                if !(parse_http_url(text).is_ok() && text.starts_with("https://")) {
                    return Err(FieldProblem::new(
                        "invalid_url",
                        "must be an absolute https URL of at most 2048 characters",
                    ));
                }
            }
            Rule::Color => {
                let digits = text.strip_prefix('#').unwrap_or("");
                let hex = digits.bytes().all(|b| b.is_ascii_hexdigit());
                if !(text.starts_with('#') && hex && matches!(digits.len(), 3 | 6 | 8)) {
                    return Err(FieldProblem::new(
                        "invalid_color",
                        "must be a hex color: #rgb, #rrggbb or #rrggbbaa",
                    ));
                }
            }
            Rule::Email => {
                EmailAddress::parse(text)?;
            }
            Rule::Host => {
                HostName::parse(text)?;
            }
            Rule::Phone => {
                let allowed = |c: char| c.is_ascii_digit() || " +-.()".contains(c);
                let ok = (1..=50).contains(&text.len())
                    && text.chars().all(allowed)
                    && text.chars().any(|c| c.is_ascii_digit());
                if !ok {
                    return Err(FieldProblem::new(
                        "invalid_phone",
                        "must be a phone number of at most 50 characters: digits, spaces, \
                         + - . ( )",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The field Trieve's `partner_configuration` names `key`.
    pub fn of_partner_key(key: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|field| field.spec().partner.is_some_and(|(name, _)| name == key))
    }
}

/// Trieve's `partner_configuration` keys, in the order Trieve lists them.
pub const PARTNER_KEYS: [&str; 9] = [
    "COMPANY_NAME",
    "COMPANY_URL",
    "FAVICON_URL",
    "DEMO_DOMAIN",
    "CALENDAR_LINK",
    "SLACK_LINK",
    "LINKEDIN_LINK",
    "EMAIL",
    "PHONE",
];

impl Branding {
    pub fn get(&self, field: Field) -> Option<&str> {
        self.slot(field).as_deref()
    }

    fn slot(&self, field: Field) -> &Option<String> {
        let colors = &self.colors;
        match field {
            Field::CompanyName => &self.company_name,
            Field::CompanyUrl => &self.company_url,
            Field::LogoUrl => &self.logo_url,
            Field::LogomarkUrl => &self.logomark_url,
            Field::FaviconUrl => &self.favicon_url,
            Field::FontFamily => &self.font_family,
            Field::DemoDomain => &self.demo_domain,
            Field::CalendarLink => &self.calendar_link,
            Field::SlackLink => &self.slack_link,
            Field::LinkedinLink => &self.linkedin_link,
            Field::Email => &self.email,
            Field::Phone => &self.phone,
            Field::Primary => &colors.primary,
            Field::PrimaryForeground => &colors.primary_foreground,
            Field::Secondary => &colors.secondary,
            Field::Accent => &colors.accent,
            Field::Background => &colors.background,
            Field::Foreground => &colors.foreground,
        }
    }

    pub fn set(&mut self, field: Field, value: Option<String>) {
        let colors = &mut self.colors;
        let slot = match field {
            Field::CompanyName => &mut self.company_name,
            Field::CompanyUrl => &mut self.company_url,
            Field::LogoUrl => &mut self.logo_url,
            Field::LogomarkUrl => &mut self.logomark_url,
            Field::FaviconUrl => &mut self.favicon_url,
            Field::FontFamily => &mut self.font_family,
            Field::DemoDomain => &mut self.demo_domain,
            Field::CalendarLink => &mut self.calendar_link,
            Field::SlackLink => &mut self.slack_link,
            Field::LinkedinLink => &mut self.linkedin_link,
            Field::Email => &mut self.email,
            Field::Phone => &mut self.phone,
            Field::Primary => &mut colors.primary,
            Field::PrimaryForeground => &mut colors.primary_foreground,
            Field::Secondary => &mut colors.secondary,
            Field::Accent => &mut colors.accent,
            Field::Background => &mut colors.background,
            Field::Foreground => &mut colors.foreground,
        };
        *slot = value;
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        Field::ALL
            .into_iter()
            .all(|field| self.get(field).is_none())
    }

    /// This record laid over `base`: each field set here, else `base`'s.
    pub fn over(&self, base: &Branding) -> Branding {
        let mut laid = base.clone();
        for field in Field::ALL {
            if let Some(value) = self.get(field) {
                laid.set(field, Some(value.to_owned()));
            }
        }
        laid
    }

    /// Trieve's `partner_configuration`: its nine keys, each with this record's value or,
    /// when unset, Trieve's default.
    pub fn partner_configuration(&self) -> Map<String, Value> {
        PARTNER_KEYS
            .iter()
            .filter_map(|key| {
                let field = Field::of_partner_key(key)?;
                let (_, default) = field.spec().partner?;
                let value = self.get(field).unwrap_or(default);
                Some(((*key).to_owned(), Value::String(value.to_owned())))
            })
            .collect()
    }
}

/// A checked change to a branding record: the fields it names get their new value (`None`
/// unsets one), the others keep theirs. Only its constructors make one, and each checks every
/// value first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrandingUpdate {
    changes: Vec<(Field, Option<String>)>,
}

impl BrandingUpdate {
    /// Replaces the whole record with `branding` (v1's `PUT`: a field left out is unset).
    /// Errors name fields by their v1 names (`colors.primary`).
    pub fn replace(branding: Branding) -> Result<BrandingUpdate, Vec<FieldError>> {
        let mut violations = Violations::default();
        for field in Field::ALL {
            if let Some(value) = branding.get(field) {
                violations.parsed(field.spec().wire, field.check(value));
            }
        }
        violations.finish(|| BrandingUpdate {
            changes: Field::ALL
                .into_iter()
                .map(|field| (field, branding.get(field).map(str::to_owned)))
                .collect(),
        })
    }

    /// The change Trieve's `partner_configuration` object makes: it replaces the nine fields
    /// it maps (a key left out, `null` or `""` unsets its field, so that Trieve's default
    /// shows) and keeps the others (logos, colors, font). Errors name
    /// `partner_configuration.<KEY>`; a key Trieve does not define is `unknown_field`.
    pub fn from_partner_configuration(config: &Value) -> Result<BrandingUpdate, Vec<FieldError>> {
        let mut violations = Violations::default();
        let Value::Object(config) = config else {
            violations.add(
                "partner_configuration",
                "invalid_value",
                "must be an object of Trieve's partner keys",
            );
            return Err(violations.into_errors());
        };
        for (key, value) in config {
            let name = format!("partner_configuration.{key}");
            let Some(field) = Field::of_partner_key(key) else {
                let known = PARTNER_KEYS.join(", ");
                violations.add(name, "unknown_field", format!("the keys are {known}"));
                continue;
            };
            match value {
                Value::Null => {}
                Value::String(text) if text.is_empty() => {}
                Value::String(text) => {
                    violations.parsed(&name, field.check(text));
                }
                _ => violations.add(name, "invalid_value", "must be a string or null"),
            }
        }
        violations.finish(|| BrandingUpdate {
            changes: PARTNER_KEYS
                .iter()
                .filter_map(|key| {
                    let field = Field::of_partner_key(key)?;
                    let value = config
                        .get(*key)
                        .and_then(Value::as_str)
                        .filter(|text| !text.is_empty());
                    Some((field, value.map(str::to_owned)))
                })
                .collect(),
        })
    }

    /// `current` with this change made.
    pub fn apply(&self, current: &Branding) -> Branding {
        let mut changed = current.clone();
        for (field, value) in &self.changes {
            changed.set(*field, value.clone());
        }
        changed
    }
}

/// A stored branding record and whose it is: the platform's default, an agency's, or a
/// tenant's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandingRecord {
    pub owner: Scope,
    pub branding: Branding,
}

impl Audited for BrandingRecord {
    fn audit_target(&self) -> Target {
        match self.owner {
            Scope::Platform => Target::new("branding", "platform"),
            Scope::Agency(id) => Target::new("branding", id),
            Scope::Tenant(id) => Target::new("branding", id),
        }
    }

    fn audit_holder(&self) -> Holder {
        super::audit::holder_of(self.owner)
    }

    fn audit_fields(&self) -> Fields {
        Field::ALL
            .into_iter()
            .filter_map(|field| {
                let value = self.branding.get(field)?;
                Some((
                    field.spec().wire.to_owned(),
                    Value::String(value.to_owned()),
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn branded(fields: &[(Field, &str)]) -> Branding {
        let mut branding = Branding::default();
        for (field, value) in fields {
            branding.set(*field, Some((*value).to_owned()));
        }
        branding
    }

    #[test]
    fn every_field_has_its_own_names() {
        for (i, a) in Field::ALL.iter().enumerate() {
            for b in &Field::ALL[i + 1..] {
                assert_ne!(a.spec().wire, b.spec().wire);
                assert_ne!(a.spec().column, b.spec().column);
            }
            let mut branding = Branding::default();
            branding.set(*a, Some("x".into()));
            assert_eq!(branding.get(*a), Some("x"));
            assert_eq!(
                Field::ALL
                    .iter()
                    .filter(|f| branding.get(**f).is_some())
                    .count(),
                1
            );
        }
        let mapped: Vec<&str> = Field::ALL
            .iter()
            .filter_map(|f| f.spec().partner.map(|(key, _)| key))
            .collect();
        assert_eq!(mapped.len(), PARTNER_KEYS.len());
        assert!(PARTNER_KEYS.iter().all(|key| mapped.contains(key)));
    }

    #[test]
    fn an_unset_record_gives_trieves_documented_defaults() {
        let config = Branding::default().partner_configuration();
        assert_eq!(
            Value::Object(config),
            json!({
                "COMPANY_NAME": "Trieve",
                "COMPANY_URL": "https://trieve.ai",
                "FAVICON_URL": "https://cdn.trieve.ai/favicon.ico",
                "DEMO_DOMAIN": "demos.trieve.ai",
                "CALENDAR_LINK": "",
                "SLACK_LINK": "",
                "LINKEDIN_LINK": "",
                "EMAIL": "",
                "PHONE": ""
            })
        );
    }

    #[test]
    fn the_partner_configuration_shows_the_record_where_it_is_set() {
        let branding = branded(&[
            (Field::CompanyName, "Acme Voice"),
            (Field::Email, "help@acme.example"),
            (Field::SlackLink, "https://acme.slack.com"),
            (Field::Primary, "#0ea5e9"),
        ]);
        let config = branding.partner_configuration();
        assert_eq!(config.len(), 9);
        assert_eq!(config["COMPANY_NAME"], "Acme Voice");
        assert_eq!(config["EMAIL"], "help@acme.example");
        assert_eq!(config["SLACK_LINK"], "https://acme.slack.com");
        assert_eq!(config["COMPANY_URL"], "https://trieve.ai");
        assert_eq!(config["PHONE"], "");
        // A platform default laid beneath comes before Trieve's own.
        let platform = branded(&[(Field::CompanyUrl, "https://platform.example")]);
        let config = branding.over(&platform).partner_configuration();
        assert_eq!(config["COMPANY_URL"], "https://platform.example");
        assert_eq!(config["COMPANY_NAME"], "Acme Voice");
    }

    #[test]
    fn a_partner_configuration_maps_back_to_its_nine_fields_and_keeps_the_rest() {
        let current = branded(&[
            (Field::CompanyName, "Old"),
            (Field::Phone, "+1 555 0100"),
            (Field::LogoUrl, "https://cdn.acme.example/logo.svg"),
            (Field::Primary, "#fff"),
        ]);
        let update = BrandingUpdate::from_partner_configuration(&json!({
            "COMPANY_NAME": "Acme",
            "COMPANY_URL": "https://acme.example",
            "DEMO_DOMAIN": "demos.acme.example",
            "EMAIL": "",
            "CALENDAR_LINK": null
        }))
        .expect("a valid configuration");
        let changed = update.apply(&current);
        assert_eq!(changed.company_name.as_deref(), Some("Acme"));
        assert_eq!(changed.company_url.as_deref(), Some("https://acme.example"));
        assert_eq!(changed.demo_domain.as_deref(), Some("demos.acme.example"));
        // Left out, like every key Trieve replaces: back to the default.
        assert_eq!(changed.phone, None);
        assert_eq!(changed.email, None);
        // Not Trieve's to change.
        assert_eq!(changed.logo_url, current.logo_url);
        assert_eq!(changed.colors.primary.as_deref(), Some("#fff"));
        // What it read back is what was sent, with the defaults for the rest.
        let config = changed.partner_configuration();
        assert_eq!(config["COMPANY_NAME"], "Acme");
        assert_eq!(config["PHONE"], "");
        assert_eq!(config["FAVICON_URL"], "https://cdn.trieve.ai/favicon.ico");
    }

    #[test]
    fn a_bad_partner_configuration_names_each_key() {
        let errors = BrandingUpdate::from_partner_configuration(&json!({
            "COMPANY_URL": "http://acme.example",
            "EMAIL": "not an address",
            "PHONE": 5,
            "LOGO": "https://x.example"
        }))
        .expect_err("refused");
        let mut named: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        named.sort();
        assert_eq!(
            named,
            [
                ("partner_configuration.COMPANY_URL", "invalid_url"),
                ("partner_configuration.EMAIL", "invalid_email"),
                ("partner_configuration.LOGO", "unknown_field"),
                ("partner_configuration.PHONE", "invalid_value"),
            ]
        );
        let errors = BrandingUpdate::from_partner_configuration(&json!("x")).unwrap_err();
        assert_eq!(errors[0].field, "partner_configuration");
    }

    #[test]
    fn values_follow_their_fields_rules() {
        let good = [
            (Field::CompanyName, "Acme Voice"),
            (Field::FontFamily, "Inter, \"Helvetica Neue\", sans-serif"),
            (Field::LogoUrl, "https://cdn.acme.example/logo.svg?v=2"),
            (Field::Primary, "#0ea5e9"),
            (Field::Primary, "#FFF"),
            (Field::Primary, "#0ea5e980"),
            (Field::Email, "help@acme.example"),
            (Field::DemoDomain, "demos.acme.example"),
            (Field::Phone, "+1 (555) 010-0100"),
        ];
        for (field, value) in good {
            assert_eq!(field.check(value), Ok(()), "{field:?} {value}");
        }
        let bad = [
            (Field::CompanyName, "", "invalid_length"),
            (Field::CompanyName, &"x".repeat(256), "invalid_length"),
            (Field::FontFamily, "Inter; color: red", "invalid_font"),
            (
                Field::LogoUrl,
                "http://cdn.acme.example/logo.svg",
                "invalid_url",
            ),
            (Field::FaviconUrl, "javascript:alert(1)", "invalid_url"),
            (Field::Primary, "0ea5e9", "invalid_color"),
            (Field::Primary, "#0ea5e", "invalid_color"),
            (Field::Primary, "#ggg", "invalid_color"),
            (Field::Accent, "blue", "invalid_color"),
            (Field::Email, "help", "invalid_email"),
            (Field::DemoDomain, "Demos.Acme.example", "invalid_host"),
            (Field::Phone, "call me", "invalid_phone"),
        ];
        for (field, value, code) in bad {
            let problem = field.check(value).expect_err(value);
            assert_eq!(problem.code, code, "{field:?} {value}");
        }
    }

    #[test]
    fn a_replacement_names_every_bad_field_by_its_wire_name() {
        let branding = branded(&[
            (Field::CompanyName, "Acme"),
            (Field::Primary, "red"),
            (Field::LogoUrl, "http://x.example/l.png"),
        ]);
        let errors = BrandingUpdate::replace(branding).expect_err("refused");
        let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort();
        assert_eq!(fields, ["colors.primary", "logoUrl"]);
        let replaced = BrandingUpdate::replace(branded(&[(Field::CompanyName, "Acme")]))
            .unwrap()
            .apply(&branded(&[(Field::Phone, "123")]));
        assert_eq!(replaced, branded(&[(Field::CompanyName, "Acme")]));
    }

    #[test]
    fn records_are_laid_field_by_field() {
        let platform = branded(&[(Field::CompanyName, "Platform"), (Field::Primary, "#111")]);
        let agency = branded(&[(Field::CompanyName, "Agency"), (Field::Accent, "#222")]);
        let tenant = branded(&[(Field::Accent, "#333")]);
        let laid = tenant.over(&agency.over(&platform));
        assert_eq!(laid.company_name.as_deref(), Some("Agency"));
        assert_eq!(laid.colors.primary.as_deref(), Some("#111"));
        assert_eq!(laid.colors.accent.as_deref(), Some("#333"));
    }
}
