//! Helpers shared by the end-to-end tests (the tests themselves live in `tests/tests/`).
