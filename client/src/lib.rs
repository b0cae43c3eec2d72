//! Vaidya offline client core.
