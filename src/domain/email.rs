//! Mail as tenantry writes it: a recipient, a subject, and the same letter as plain text and as
//! HTML, branded with the agency's name. Sending is the outbox worker's business; a [`Mail`]
//! only says what to send.

use std::fmt::Write;

use lettre::message::Mailbox;

/// The brand of mail sent for no agency (platform mail, or a tenant without an agency).
pub const DEFAULT_BRAND: &str = "tenantry";

/// One message to one recipient, both parts rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// A mailbox lettre parses: `jane@acme.com` or `Jane Smith <jane@acme.com>`.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What a branded mail says. Every value is plain text; the HTML part escapes it.
#[derive(Debug, Clone, Copy)]
pub struct Letter<'a> {
    /// The agency's name, or [`DEFAULT_BRAND`].
    pub brand: &'a str,
    pub subject: &'a str,
    /// The first line, such as "Hello Jane,".
    pub greeting: &'a str,
    pub paragraphs: &'a [String],
    /// A button in HTML, a line in plain text: its label and its absolute URL.
    pub action: Option<(&'a str, &'a str)>,
    /// A closing line under the brand, such as why the recipient got this mail.
    pub footer: &'a str,
}

/// A recipient lettre cannot parse as a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address:?} is not an e-mail address: {reason}")]
pub struct InvalidRecipient {
    pub address: String,
    pub reason: String,
}

/// Parses a recipient the way the sender will, so that a mail that is made can be sent.
pub fn parse_mailbox(address: &str) -> Result<Mailbox, InvalidRecipient> {
    address
        .parse()
        .map_err(|error: lettre::address::AddressError| InvalidRecipient {
            address: address.to_owned(),
            reason: error.to_string(),
        })
}

impl Mail {
    /// The letter rendered as plain text and as HTML, to `to`.
    pub fn branded(to: &str, letter: &Letter<'_>) -> Result<Mail, InvalidRecipient> {
        let to = parse_mailbox(to)?.to_string();
        Ok(Mail {
            to,
            subject: one_line(letter.subject),
            text: plain_text(letter),
            html: html(letter),
        })
    }
}

/// A header value on one line: line breaks in a subject would end the header.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn plain_text(letter: &Letter<'_>) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{}\n", letter.greeting);
    for paragraph in letter.paragraphs {
        let _ = writeln!(text, "{paragraph}\n");
    }
    if let Some((label, url)) = letter.action {
        let _ = writeln!(text, "{label}: {url}\n");
    }
    // "-- " opens a signature that mail clients know to set apart.
    let _ = writeln!(text, "-- \n{}", letter.brand);
    if !letter.footer.is_empty() {
        let _ = writeln!(text, "{}", letter.footer);
    }
    text
}

fn html(letter: &Letter<'_>) -> String {
    let brand = escape(letter.brand);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family: sans-serif; color: #222; max-width: 36em; margin: 0 auto; padding: 1em\">\n\
         <p style=\"font-size: 1.2em; font-weight: bold\">{brand}</p>\n<p>{}</p>\n",
        escape(letter.subject),
        escape(letter.greeting),
    );
    for paragraph in letter.paragraphs {
        let _ = writeln!(html, "<p>{}</p>", escape(paragraph));
    }
    if let Some((label, url)) = letter.action {
        let _ = writeln!(
            html,
            "<p><a href=\"{}\" style=\"display: inline-block; padding: 0.6em 1.2em; \
             background: #2b59c3; color: #fff; text-decoration: none; border-radius: 4px\">{}</a></p>\n\
             <p style=\"font-size: 0.9em; color: #555\">{}</p>",
            escape(url),
            escape(label),
            escape(url),
        );
    }
    let _ = write!(
        html,
        "<hr style=\"border: none; border-top: 1px solid #ddd\">\n\
         <p style=\"font-size: 0.9em; color: #555\">{brand}",
    );
    if !letter.footer.is_empty() {
        let _ = write!(html, "<br>{}", escape(letter.footer));
    }
    html.push_str("</p>\n</body></html>\n");
    html
}

/// Text as HTML content or attribute value: the five characters HTML gives meaning to.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert('x')</script> & \"quoted\"";

    fn letter<'a>(paragraphs: &'a [String], action: Option<(&'a str, &'a str)>) -> Letter<'a> {
        Letter {
            brand: "Northwind <Agency> & Co",
            subject: "You are invited to Acme",
            greeting: "Hello Jane,",
            paragraphs,
            action,
            footer: "You get this mail because Northwind invited you.",
        }
    }

    #[test]
    fn both_parts_carry_the_brand_the_paragraphs_and_the_link() {
        let paragraphs = ["Acme Corp invites you to join it.".to_owned()];
        let url = "https://tenantry.example/invitations/abc?x=1&y=2";
        let mail = Mail::branded(
            "jane@acme.com",
            &letter(&paragraphs, Some(("Accept the invitation", url))),
        )
        .unwrap();
        assert_eq!(mail.to, "jane@acme.com");
        assert_eq!(mail.subject, "You are invited to Acme");
        assert!(mail.text.starts_with("Hello Jane,\n\n"), "{}", mail.text);
        assert!(mail.text.contains("Acme Corp invites you to join it.\n"));
        assert!(mail
            .text
            .contains(&format!("Accept the invitation: {url}\n")));
        assert!(mail.text.contains("-- \nNorthwind <Agency> & Co\n"));
        assert!(mail.html.contains("Northwind &lt;Agency&gt; &amp; Co"));
        assert!(mail
            .html
            .contains("href=\"https://tenantry.example/invitations/abc?x=1&amp;y=2\""));
        assert!(mail.html.contains(">Accept the invitation</a>"));
    }

    #[test]
    fn every_value_is_escaped_in_html_and_kept_as_written_in_text() {
        let paragraphs = [HOSTILE.to_owned(), format!("second {HOSTILE}")];
        let hostile_url = "https://x.example/\"><script>alert(1)</script>";
        let mail = Mail::branded(
            "jane@acme.com",
            &Letter {
                brand: HOSTILE,
                subject: HOSTILE,
                greeting: HOSTILE,
                paragraphs: &paragraphs,
                action: Some((HOSTILE, hostile_url)),
                footer: HOSTILE,
            },
        )
        .unwrap();
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(mail.html.contains(
            "href=\"https://x.example/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""
        ));
        assert!(!mail.html.contains("'x'"), "{}", mail.html);
        let escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;";
        // Title, brand twice, greeting, two paragraphs, label, footer.
        assert_eq!(mail.html.matches(escaped).count(), 8, "{}", mail.html);
        assert!(mail.text.contains(HOSTILE));
        assert_eq!(escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
    }

    #[test]
    fn a_subject_stays_on_one_line() {
        let mail = Mail::branded(
            "jane@acme.com",
            &Letter {
                subject: "Hello\r\nBcc: victim@example.com",
                ..letter(&[], None)
            },
        )
        .unwrap();
        assert_eq!(mail.subject, "Hello Bcc: victim@example.com");
    }

    #[test]
    fn recipients_are_parsed_as_mailboxes() {
        let named = Mail::branded("Jane Smith <jane@acme.com>", &letter(&[], None)).unwrap();
        assert_eq!(named.to, "Jane Smith <jane@acme.com>");
        for bad in [
            "",
            "jane",
            "jane@",
            "@acme.com",
            "jane@acme.com\r\nBcc: x@y.z",
        ] {
            let refused = Mail::branded(bad, &letter(&[], None)).unwrap_err();
            assert_eq!(refused.address, bad);
        }
    }

    #[test]
    fn a_letter_without_action_or_footer_has_neither() {
        let mail = Mail::branded(
            "jane@acme.com",
            &Letter {
                footer: "",
                ..letter(&["Only this.".to_owned()], None)
            },
        )
        .unwrap();
        assert!(!mail.html.contains("<a "));
        assert!(!mail.html.contains("<br>"));
        assert!(
            mail.text.ends_with("-- \nNorthwind <Agency> & Co\n"),
            "{}",
            mail.text
        );
    }
}
