//! Regression suites for httpsim live in `tests/`.
