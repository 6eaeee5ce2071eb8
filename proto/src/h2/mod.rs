//! HTTP/2 glue that the h2 crate does not give us.
//!
//! - [`FrameScanner`]: reads the frame headers in a client's byte stream (it never
//!   decodes a payload) and counts the frames that cost a server work without asking it
//!   for anything (SETTINGS, PING, PRIORITY, WINDOW_UPDATE, RST_STREAM, empty frames,
//!   CONTINUATION runs). The gateway runs it over every byte it reads from an HTTP/2
//!   client before the h2 crate sees them, and closes the connection with GOAWAY
//!   `ENHANCE_YOUR_CALM` when a budget is exceeded: the flood attacks of 2019
//!   (CVE-2019-9511..9518), Rapid Reset (CVE-2023-44487) and CONTINUATION floods
//!   (CVE-2024-27316) are stopped here, at a cost of one 9-byte header check per frame.
//!
//! The h2 crate enforces the protocol itself (frame sizes, stream states, HPACK, header
//! list size, flow control). The scanner also refuses the few violations a frame header
//! shows, with the error code RFC 9113 asks for where h2 would send another: a first
//! frame that is not SETTINGS (PROTOCOL_ERROR), and a PING, PRIORITY, RST_STREAM,
//! WINDOW_UPDATE or SETTINGS frame of the wrong length (FRAME_SIZE_ERROR).

mod scan;

pub use scan::{FloodLimits, FrameKind, FrameScanner, Stop, Tripped, Violation};

/// The client connection preface (RFC 9113 §3.4): a connection that starts with these
/// bytes speaks HTTP/2.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
