//! End-to-end tests of `argus replay`.
