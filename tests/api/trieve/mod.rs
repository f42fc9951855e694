//! Stories of the Trieve dialect.

use crate::both;
use crate::support::{assert_committed_spec, assert_spec_served};

#[test]
fn the_committed_spec_matches_the_code() {
    assert_committed_spec(
        "trieve",
        "openapi/trieve.json",
        include_str!("../../../openapi/trieve.json"),
    );
}

both!(its_spec_is_served_without_a_key, |app| async move {
    assert_spec_served(&app, "trieve").await;
});
