//! `assert_contains!(haystack, needle)` and `assert_not_contains!(haystack, needle)`: a failure
//! names the needle and shows the whole haystack, labelled with the expression it came from:
//!
//! ```text
//! expected outcome.stderr to contain `Successfully created`; outcome.stderr was:
//! ...
//! ```
//!
//! Both take an optional message after the needle (format arguments), put in front.
//! Included with `#[macro_use]` before the modules that use them.

// Each test target uses its own subset.
#![allow(unused_macros)]

macro_rules! assert_contains {
    (@check $haystack:expr, $needle:expr, $prefix:expr, $wanted:expr) => {{
        let haystack: &str = &$haystack;
        let needle: &str = &$needle;
        let wanted: bool = $wanted;
        if haystack.contains(needle) != wanted {
            panic!(
                "{}expected {} {}to contain `{}`; {} was:\n{}",
                $prefix,
                stringify!($haystack),
                if wanted { "" } else { "not " },
                needle,
                stringify!($haystack),
                haystack
            );
        }
    }};
    ($haystack:expr, $needle:expr $(,)?) => {
        assert_contains!(@check $haystack, $needle, "", true)
    };
    ($haystack:expr, $needle:expr, $($message:tt)+) => {
        assert_contains!(@check $haystack, $needle, format!("{}: ", format_args!($($message)+)), true)
    };
}

macro_rules! assert_not_contains {
    ($haystack:expr, $needle:expr $(,)?) => {
        assert_contains!(@check $haystack, $needle, "", false)
    };
    ($haystack:expr, $needle:expr, $($message:tt)+) => {
        assert_contains!(@check $haystack, $needle, format!("{}: ", format_args!($($message)+)), false)
    };
}

#[test]
fn a_failure_shows_the_needle_and_the_whole_labelled_haystack() {
    let stderr = String::from("line one\nline two");
    assert_contains!(stderr, "two");
    assert_not_contains!(stderr, "three");
    let missing =
        std::panic::catch_unwind(|| assert_contains!(stderr, "three", "run {}", 2)).unwrap_err();
    assert_eq!(
        missing.downcast_ref::<String>().unwrap(),
        "run 2: expected stderr to contain `three`; stderr was:\nline one\nline two"
    );
    let present = std::panic::catch_unwind(|| assert_not_contains!(stderr, "one")).unwrap_err();
    assert_eq!(
        present.downcast_ref::<String>().unwrap(),
        "expected stderr not to contain `one`; stderr was:\nline one\nline two"
    );
}
