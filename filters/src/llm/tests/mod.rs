//! Unit tests of the LLM router, its config and the reset-header parser.
