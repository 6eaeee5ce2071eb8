//! Load generator and mock upstream.
