//! Stories of the MrAssistant dialect.

use crate::both;
use crate::support::{assert_committed_spec, assert_spec_served};

#[test]
fn the_committed_spec_matches_the_code() {
    assert_committed_spec(
        "mrassistant",
        "openapi/mrassistant.json",
        include_str!("../../../openapi/mrassistant.json"),
    );
}

both!(its_spec_is_served_without_a_key, |app| async move {
    assert_spec_served(&app, "mrassistant").await;
});
