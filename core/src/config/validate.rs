//! Whole-config validation with line-precise errors.

use super::{Config, ConfigError};

pub fn parse_and_validate(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let _ = (text, origin);
    todo!("parse_and_validate")
}
