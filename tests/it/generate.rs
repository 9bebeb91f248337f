//! End-to-end tests of `argus generate`.
