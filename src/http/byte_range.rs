//! HTTP `Range` requests (RFC 9110 §14) for downloads: which single byte range to serve, and
//! the `Content-Range` values that describe it.

use std::ops::Range;

/// A well-formed range that lies wholly outside the object: answer 416 with
/// [`unsatisfied_content_range`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the requested range lies outside the {size} bytes of the object")]
pub struct RangeNotSatisfiable {
    /// The size of the whole object, for `Content-Range: bytes */size`.
    pub size: u64,
}

/// The byte range a `Range` header asks for within an object of `size` bytes, as a half-open
/// range ready for the store.
///
/// `Ok(None)` means "serve the whole body with 200": RFC 9110 lets a server ignore a header it
/// cannot parse and one that asks for several ranges, which spares us multipart/byteranges.
pub fn parse_range(header: &str, size: u64) -> Result<Option<Range<u64>>, RangeNotSatisfiable> {
    let Some(spec) = single_byte_range_spec(header) else {
        return Ok(None);
    };
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let unsatisfiable = Err(RangeNotSatisfiable { size });
    if first.is_empty() {
        // `bytes=-n`: the last n bytes, or the whole object when it is shorter.
        let Some(suffix) = parse_position(last) else {
            return Ok(None);
        };
        if suffix == 0 || size == 0 {
            return unsatisfiable;
        }
        return Ok(Some(size.saturating_sub(suffix)..size));
    }
    let Some(start) = parse_position(first) else {
        return Ok(None);
    };
    let last = if last.is_empty() {
        u64::MAX
    } else {
        match parse_position(last) {
            // RFC 9110 calls `last < first` invalid, not unsatisfiable.
            Some(last) if last >= start => last,
            _ => return Ok(None),
        }
    };
    if start >= size {
        return unsatisfiable;
    }
    Ok(Some(start..last.min(size - 1) + 1))
}

/// The `Content-Range` value of a 206 answer serving `range` of an object of `size` bytes.
pub fn content_range(range: &Range<u64>, size: u64) -> String {
    format!("bytes {}-{}/{size}", range.start, range.end - 1)
}

/// The `Content-Range` value of a 416 answer for an object of `size` bytes.
pub fn unsatisfied_content_range(size: u64) -> String {
    format!("bytes */{size}")
}

/// The one range-spec of a `bytes=` header, or `None` for another unit or a list.
fn single_byte_range_spec(header: &str) -> Option<&str> {
    let (unit, set) = header.trim().split_once('=')?;
    // Range units are case-insensitive.
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    Some(set.trim())
}

/// A decimal byte position. Digits only: `str::parse` would also take a `+` sign. A number too
/// large for u64 still lies past any object, so it saturates instead of failing.
fn parse_position(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: u64 = 100;

    fn served(header: &str) -> Option<Range<u64>> {
        parse_range(header, SIZE).expect("satisfiable")
    }

    fn refused(header: &str, size: u64) -> bool {
        parse_range(header, size) == Err(RangeNotSatisfiable { size })
    }

    #[test]
    fn a_bounded_range_is_served_as_a_half_open_range() {
        assert_eq!(served("bytes=0-0"), Some(0..1));
        assert_eq!(served("bytes=10-19"), Some(10..20));
        assert_eq!(served("bytes=99-99"), Some(99..100));
    }

    #[test]
    fn an_end_past_the_object_is_clamped_to_the_last_byte() {
        assert_eq!(served("bytes=0-499"), Some(0..100));
        assert_eq!(served("bytes=50-18446744073709551615"), Some(50..100));
        assert_eq!(served("bytes=50-99999999999999999999999"), Some(50..100));
    }

    #[test]
    fn an_open_range_runs_to_the_end() {
        assert_eq!(served("bytes=0-"), Some(0..100));
        assert_eq!(served("bytes=42-"), Some(42..100));
    }

    #[test]
    fn a_suffix_range_serves_the_last_bytes() {
        assert_eq!(served("bytes=-1"), Some(99..100));
        assert_eq!(served("bytes=-30"), Some(70..100));
    }

    #[test]
    fn a_suffix_longer_than_the_object_serves_all_of_it() {
        assert_eq!(served("bytes=-500"), Some(0..100));
        assert_eq!(served("bytes=-99999999999999999999999"), Some(0..100));
    }

    #[test]
    fn unit_and_whitespace_are_lenient() {
        assert_eq!(served("Bytes=1-2"), Some(1..3));
        assert_eq!(served("  bytes = 1-2 "), Some(1..3));
    }

    #[test]
    fn a_start_at_or_past_the_end_is_unsatisfiable() {
        assert!(refused("bytes=100-", SIZE));
        assert!(refused("bytes=100-200", SIZE));
        assert!(refused("bytes=99999999999999999999999-", SIZE));
    }

    #[test]
    fn an_empty_suffix_is_unsatisfiable() {
        assert!(refused("bytes=-0", SIZE));
    }

    #[test]
    fn any_range_of_an_empty_object_is_unsatisfiable() {
        assert!(refused("bytes=0-", 0));
        assert!(refused("bytes=0-0", 0));
        assert!(refused("bytes=-5", 0));
    }

    #[test]
    fn several_ranges_serve_the_whole_body() {
        assert_eq!(served("bytes=0-1,5-6"), None);
        assert_eq!(served("bytes=0-1, 500-"), None);
        assert_eq!(served("bytes=0-1,"), None);
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for header in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=5",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=-+5",
            "bytes=1 -2",
            "bytes=20-10",
            "bytes=1-2-3",
            "items=0-1",
            "0-1",
        ] {
            assert_eq!(served(header), None, "{header:?}");
        }
    }

    #[test]
    fn content_range_names_the_inclusive_last_byte_and_the_size() {
        assert_eq!(content_range(&(0..1), 100), "bytes 0-0/100");
        assert_eq!(content_range(&(70..100), 100), "bytes 70-99/100");
        assert_eq!(unsatisfied_content_range(100), "bytes */100");
    }
}
