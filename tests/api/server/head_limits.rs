//! Oversized request heads get problem+json answers like every other refusal: a request
//! target over 8 KiB is a 414, headers over 32 KiB in total a 431, before any key is checked.

use reqwest::{Method, StatusCode};

use crate::both;

both!(a_long_request_target_is_a_414_problem, |app| async move {
    let anonymous = app.anonymous();
    let long = format!("/healthz?pad={}", "a".repeat(9 * 1024));
    anonymous
        .get(&long)
        .await
        .assert_problem(StatusCode::URI_TOO_LONG, "uri_too_long");
    // Refused before auth: no key is needed to learn that the target is too long.
    let long_path = format!("/api/v1/tenants/{}", "t".repeat(9 * 1024));
    anonymous
        .get(&long_path)
        .await
        .assert_problem(StatusCode::URI_TOO_LONG, "uri_too_long");
    // Just under the limit is served as usual.
    let fits = format!("/healthz?pad={}", "a".repeat(7 * 1024));
    anonymous.get(&fits).await.assert_status(StatusCode::OK);
});

both!(large_headers_are_a_431_problem, |app| async move {
    let platform = app.platform();
    let huge = platform
        .request(Method::GET, "/api/v1/tenants")
        .header("x-huge", "h".repeat(40 * 1024));
    platform.send(huge).await.assert_problem(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );

    // The total counts, not only the largest header.
    let mut many = app.anonymous().request(Method::GET, "/healthz");
    for n in 0..40 {
        many = many.header(format!("x-part-{n}"), "p".repeat(1024));
    }
    app.anonymous().send(many).await.assert_problem(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );

    let fits = platform
        .request(Method::GET, "/api/v1/tenants")
        .header("x-large", "l".repeat(16 * 1024));
    platform.send(fits).await.assert_status(StatusCode::OK);
});
