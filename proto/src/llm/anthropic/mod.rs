//! The Anthropic Messages API as typed serde structs: request, response, stream events
//! and the `{"type":"error","error":{...}}` body.
//!
//! Block and event types this version does not know parse as `Unknown` variants instead
//! of failing (Anthropic adds block types and events over time, and asks clients to
//! ignore unknown events); those variants cannot be serialised again, and translation
//! refuses unknown blocks by name. Unknown top-level fields live in `extra` maps.
//!
//! Invariant: these types only describe the wire format; no I/O, no panics on input.

mod content;
mod error;
mod request;
mod response;
mod stream;

pub use content::{ContentBlock, ImageSource, MessageContent, ToolResultContent};
pub use error::{error_type_for_status, ErrorBody, ErrorResponse};
pub use request::{Message, MessagesRequest, Metadata, Role, SystemPrompt, Tool, ToolChoice};
pub use response::{MessagesResponse, StopReason, Usage};
pub use stream::{BlockDelta, DeltaUsage, MessageDeltaBody, StreamEvent};
