//! Config: one TOML file, deserialised into typed structs ([`model`]) and validated as a
//! whole ([`validate`]) before anything uses it. Errors name the file, line and column.
//!
//! With no file, `tollgate run` uses [`EMBEDDED_DEFAULT`], which answers on
//! 127.0.0.1:8080 without any backend.

pub mod duration;
pub mod model;
pub mod validate;

pub use duration::Dur;
pub use model::*;

use std::path::Path;

/// The config `tollgate run` uses when no file is given.
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");

/// A config that failed to load: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name, or `<embedded>`.
    pub origin: String,
    /// 1-based line and column of the offending key or value, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{}:{}: {}", self.origin, l, c, self.message),
            (Some(l), None) => write!(f, "{}:{}: {}", self.origin, l, self.message),
            _ => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Reads, parses and validates a config file. Relative file paths in it (TLS
/// certificates and keys) count from the file's directory.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        origin: origin.clone(),
        line: None,
        column: None,
        message: format!("cannot read: {e}"),
    })?;
    validate::parse_and_validate_in(&text, &origin, &base_dir(path))
}

/// The directory relative paths in the config file at `path` count from (absolute when
/// the working directory can be known).
pub fn base_dir(path: &Path) -> std::path::PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Parses and validates config text; `origin` names it in errors.
pub fn load_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    validate::parse_and_validate(text, origin)
}
