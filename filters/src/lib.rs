//! Tollgate's filter chain.
