//! End-to-end tests of `argus inspect`.
