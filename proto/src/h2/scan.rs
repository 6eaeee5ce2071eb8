//! Counting a client's HTTP/2 frames by their 9-byte headers (RFC 9113 §4.1).
//!
//! The scanner is fed the bytes read from the client, in order and in any split, and
//! keeps only a partial frame header (at most 9 bytes) and how much payload is left to
//! skip. Per frame it classifies and counts; counts live in a window that the caller
//! resets every second ([`FrameScanner::next_window`]); a count over its budget trips
//! the scanner, and every later call reports the same trip.

/// Frame budgets per window (per second): 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodLimits {
    pub settings: u32,
    pub ping: u32,
    pub priority: u32,
    pub window_update: u32,
    /// DATA with no payload and no END_STREAM, HEADERS/CONTINUATION with an empty
    /// fragment that do not end the block, and frames of unknown type.
    pub empty_frames: u32,
    pub rst_stream: u32,
    pub new_streams: u32,
    /// CONTINUATION frames in one header block (not per window).
    pub continuation_per_block: u32,
}

/// What was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Settings,
    Ping,
    Priority,
    WindowUpdate,
    EmptyFrame,
    RstStream,
    NewStream,
    Continuation,
}

impl FrameKind {
    /// The config key that sets this budget.
    pub fn key(self) -> &'static str {
        match self {
            FrameKind::Settings => "settings",
            FrameKind::Ping => "ping",
            FrameKind::Priority => "priority",
            FrameKind::WindowUpdate => "window_update",
            FrameKind::EmptyFrame => "empty_frames",
            FrameKind::RstStream => "rst_stream",
            FrameKind::NewStream => "new_streams",
            FrameKind::Continuation => "continuation_per_block",
        }
    }
}

/// Why the scanner stopped the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A budget was exceeded.
    Flood(Tripped),
    /// A frame broke a rule that needs only its header to see (RFC 9113 §3.4, §6):
    /// the connection error to send.
    Violation(Violation),
}

/// A connection error found in a frame header: `code` is the RFC 9113 §7 error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    pub code: u32,
    pub what: &'static str,
}

const PROTOCOL_ERROR: u32 = 0x1;
const FRAME_SIZE_ERROR: u32 = 0x6;

fn violation(code: u32, what: &'static str) -> Result<(), Stop> {
    Err(Stop::Violation(Violation { code, what }))
}

/// A budget was exceeded: `count` frames of `kind` against a budget of `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tripped {
    pub kind: FrameKind,
    pub count: u32,
    pub limit: u32,
}

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// Counters indexed by `FrameKind as usize` (Continuation is per block, not here).
const KINDS: usize = 7;

/// See the module doc.
#[derive(Debug, Clone)]
pub struct FrameScanner {
    limits: FloodLimits,
    /// Bytes of the connection preface still to pass over.
    preface_left: usize,
    head: [u8; 9],
    head_len: usize,
    /// Payload bytes of the current frame still to skip.
    skip: usize,
    /// A header block is open (HEADERS without END_HEADERS): CONTINUATION frames
    /// follow, counted in `continuations`.
    in_block: bool,
    continuations: u32,
    counts: [u32; KINDS],
    /// The highest stream id a client opened.
    last_stream: u32,
    frames: u64,
    tripped: Option<Stop>,
}

impl FrameScanner {
    /// A scanner for the bytes a client sends, starting with its connection preface.
    pub fn new(limits: FloodLimits) -> FrameScanner {
        FrameScanner {
            limits,
            preface_left: super::PREFACE.len(),
            head: [0; 9],
            head_len: 0,
            skip: 0,
            in_block: false,
            continuations: 0,
            counts: [0; KINDS],
            last_stream: 0,
            frames: 0,
            tripped: None,
        }
    }

    /// Starts a new counting window (call it once a second).
    pub fn next_window(&mut self) {
        self.counts = [0; KINDS];
    }

    /// Frames seen so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn tripped(&self) -> Option<Stop> {
        self.tripped
    }

    /// Scans the next bytes of the stream. After a stop the rest is not looked at.
    pub fn scan(&mut self, mut bytes: &[u8]) -> Result<(), Stop> {
        if let Some(t) = self.tripped {
            return Err(t);
        }
        if self.preface_left > 0 {
            let n = self.preface_left.min(bytes.len());
            self.preface_left -= n;
            bytes = &bytes[n..];
        }
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (9 - self.head_len).min(bytes.len());
            self.head[self.head_len..self.head_len + n].copy_from_slice(&bytes[..n]);
            self.head_len += n;
            bytes = &bytes[n..];
            if self.head_len < 9 {
                break;
            }
            self.head_len = 0;
            let h = self.head;
            let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
            let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff;
            self.skip = len;
            self.frames += 1;
            let checked = if self.frames == 1 && (h[3] != SETTINGS || h[4] & ACK != 0) {
                // RFC 9113 §3.4: the preface continues with a SETTINGS frame.
                violation(
                    PROTOCOL_ERROR,
                    "the first frame after the preface is not SETTINGS",
                )
            } else {
                self.frame(h[3], h[4], stream, len)
            };
            if let Err(t) = checked {
                self.tripped = Some(t);
                return Err(t);
            }
        }
        Ok(())
    }

    fn frame(&mut self, kind: u8, flags: u8, stream: u32, len: usize) -> Result<(), Stop> {
        // Fixed payload lengths (RFC 9113 §6.3-§6.9): FRAME_SIZE_ERROR otherwise.
        let size_ok = match kind {
            PRIORITY => len == 5,
            RST_STREAM | WINDOW_UPDATE => len == 4,
            PING => len == 8,
            SETTINGS if flags & ACK != 0 => len == 0,
            SETTINGS => len.is_multiple_of(6),
            _ => true,
        };
        if !size_ok {
            return violation(FRAME_SIZE_ERROR, "a frame's length is wrong for its type");
        }
        match kind {
            DATA if len == 0 && flags & END_STREAM == 0 => self.count(FrameKind::EmptyFrame),
            DATA | GOAWAY | PUSH_PROMISE => Ok(()),
            HEADERS => {
                if stream > self.last_stream {
                    self.last_stream = stream;
                    self.count(FrameKind::NewStream)?;
                }
                if flags & END_HEADERS == 0 {
                    self.in_block = true;
                    self.continuations = 0;
                    if len == 0 {
                        return self.count(FrameKind::EmptyFrame);
                    }
                }
                Ok(())
            }
            CONTINUATION => {
                // Outside a block the h2 crate ends the connection (PROTOCOL_ERROR).
                if flags & END_HEADERS != 0 {
                    self.in_block = false;
                } else if len == 0 {
                    self.count(FrameKind::EmptyFrame)?;
                }
                self.continuations += 1;
                let limit = self.limits.continuation_per_block;
                if limit != 0 && self.continuations > limit {
                    return Err(Stop::Flood(Tripped {
                        kind: FrameKind::Continuation,
                        count: self.continuations,
                        limit,
                    }));
                }
                Ok(())
            }
            PRIORITY => self.count(FrameKind::Priority),
            RST_STREAM => self.count(FrameKind::RstStream),
            SETTINGS if flags & ACK == 0 => self.count(FrameKind::Settings),
            PING if flags & ACK == 0 => self.count(FrameKind::Ping),
            SETTINGS | PING => Ok(()),
            WINDOW_UPDATE => self.count(FrameKind::WindowUpdate),
            // Unknown types must be ignored (RFC 9113 §4.1); they still cost a parse.
            _ => self.count(FrameKind::EmptyFrame),
        }
    }

    fn count(&mut self, kind: FrameKind) -> Result<(), Stop> {
        let limit = match kind {
            FrameKind::Settings => self.limits.settings,
            FrameKind::Ping => self.limits.ping,
            FrameKind::Priority => self.limits.priority,
            FrameKind::WindowUpdate => self.limits.window_update,
            FrameKind::EmptyFrame => self.limits.empty_frames,
            FrameKind::RstStream => self.limits.rst_stream,
            FrameKind::NewStream => self.limits.new_streams,
            FrameKind::Continuation => self.limits.continuation_per_block,
        };
        let c = &mut self.counts[kind as usize];
        *c += 1;
        if limit != 0 && *c > limit {
            return Err(Stop::Flood(Tripped {
                kind,
                count: *c,
                limit,
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> FloodLimits {
        FloodLimits {
            settings: 3,
            ping: 3,
            priority: 3,
            window_update: 3,
            empty_frames: 3,
            rst_stream: 3,
            new_streams: 3,
            continuation_per_block: 2,
        }
    }

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// The preface, the client's SETTINGS, then `frames`.
    fn with_preface(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut v = crate::h2::PREFACE.to_vec();
        v.extend_from_slice(&frame(SETTINGS, 0, 0, &[]));
        for f in frames {
            v.extend_from_slice(f);
        }
        v
    }

    #[test]
    fn counts_frames_across_any_split_and_skips_payloads() {
        let bytes = with_preface(&[
            frame(HEADERS, END_HEADERS | END_STREAM, 1, &[0x82; 40]),
            frame(DATA, 0, 1, &[b'x'; 1000]),
            frame(PING, 0, 0, &[0; 8]),
        ]);
        for split in [1, 2, 5, 9, 10, 100, bytes.len()] {
            let mut s = FrameScanner::new(limits());
            for part in bytes.chunks(split) {
                s.scan(part).unwrap();
            }
            assert_eq!(s.frames(), 4, "split {split}");
            assert_eq!(s.counts[FrameKind::Settings as usize], 1);
            assert_eq!(s.counts[FrameKind::Ping as usize], 1);
            assert_eq!(s.counts[FrameKind::NewStream as usize], 1);
        }
    }

    #[test]
    fn a_flood_trips_at_the_budget_and_stays_tripped() {
        let pings: Vec<_> = (0..4).map(|_| frame(PING, 0, 0, &[0; 8])).collect();
        let mut s = FrameScanner::new(limits());
        let err = s.scan(&with_preface(&pings)).unwrap_err();
        let t = Tripped {
            kind: FrameKind::Ping,
            count: 4,
            limit: 3,
        };
        assert_eq!(err, Stop::Flood(t));
        assert_eq!(s.scan(b"").unwrap_err(), err);
        assert_eq!(t.kind.key(), "ping");
    }

    #[test]
    fn acks_and_data_that_end_a_stream_are_not_counted() {
        let mut frames = Vec::new();
        for _ in 0..10 {
            frames.push(frame(SETTINGS, ACK, 0, &[]));
            frames.push(frame(PING, ACK, 0, &[0; 8]));
            frames.push(frame(DATA, END_STREAM, 1, &[]));
        }
        let mut s = FrameScanner::new(limits());
        s.scan(&with_preface(&frames)).unwrap();
    }

    #[test]
    fn a_new_window_resets_the_counts() {
        let mut s = FrameScanner::new(limits());
        s.scan(&with_preface(&[])).unwrap();
        for _ in 0..5 {
            for _ in 0..3 {
                s.scan(&frame(RST_STREAM, 0, 1, &[0; 4])).unwrap();
            }
            s.next_window();
        }
        for _ in 0..3 {
            s.scan(&frame(RST_STREAM, 0, 1, &[0; 4])).unwrap();
        }
        let t = s.scan(&frame(RST_STREAM, 0, 1, &[0; 4])).unwrap_err();
        assert!(matches!(t, Stop::Flood(t) if t.kind == FrameKind::RstStream));
    }

    #[test]
    fn continuation_runs_are_bounded_per_block() {
        let mut s = FrameScanner::new(limits());
        s.scan(&with_preface(&[])).unwrap();
        // A block of HEADERS + 2 CONTINUATION is fine, many times over (not per window).
        for id in [1u32, 3] {
            s.scan(&frame(HEADERS, 0, id, &[0x82])).unwrap();
            s.scan(&frame(CONTINUATION, 0, id, &[0x84])).unwrap();
            s.scan(&frame(CONTINUATION, END_HEADERS, id, &[0x86]))
                .unwrap();
        }
        s.scan(&frame(HEADERS, 0, 5, &[0x82])).unwrap();
        s.scan(&frame(CONTINUATION, 0, 5, &[0x84])).unwrap();
        s.scan(&frame(CONTINUATION, 0, 5, &[0x84])).unwrap();
        let t = s.scan(&frame(CONTINUATION, 0, 5, &[0x84])).unwrap_err();
        assert!(matches!(t, Stop::Flood(t) if t.kind == FrameKind::Continuation));
    }

    #[test]
    fn empty_and_unknown_frames_count_together() {
        let mut s = FrameScanner::new(limits());
        s.scan(&with_preface(&[])).unwrap();
        s.scan(&frame(DATA, 0, 1, &[])).unwrap();
        s.scan(&frame(0x20, 0, 0, &[1, 2, 3])).unwrap();
        s.scan(&frame(HEADERS, 0, 3, &[])).unwrap();
        let t = s.scan(&frame(DATA, 0, 1, &[])).unwrap_err();
        assert!(matches!(t, Stop::Flood(t) if t.kind == FrameKind::EmptyFrame));
    }

    #[test]
    fn zero_is_no_limit() {
        let mut l = limits();
        l.ping = 0;
        let mut s = FrameScanner::new(l);
        s.scan(&with_preface(&[])).unwrap();
        for _ in 0..10_000 {
            s.scan(&frame(PING, 0, 0, &[0; 8])).unwrap();
        }
    }

    #[test]
    fn the_first_frame_must_be_settings() {
        for first in [frame(PING, 0, 0, &[0; 8]), frame(SETTINGS, ACK, 0, &[])] {
            let mut v = crate::h2::PREFACE.to_vec();
            v.extend_from_slice(&first);
            let err = FrameScanner::new(limits()).scan(&v).unwrap_err();
            assert!(matches!(err, Stop::Violation(v) if v.code == PROTOCOL_ERROR));
        }
    }

    #[test]
    fn fixed_length_frames_of_the_wrong_length_are_frame_size_errors() {
        for bad in [
            frame(PING, 0, 0, &[0; 7]),
            frame(SETTINGS, 0, 0, &[0; 7]),
            frame(SETTINGS, ACK, 0, &[0; 6]),
            frame(WINDOW_UPDATE, 0, 1, &[0; 3]),
            frame(RST_STREAM, 0, 1, &[0; 5]),
            frame(PRIORITY, 0, 1, &[0; 4]),
        ] {
            let mut s = FrameScanner::new(limits());
            s.scan(&with_preface(&[])).unwrap();
            let err = s.scan(&bad).unwrap_err();
            assert!(
                matches!(err, Stop::Violation(v) if v.code == FRAME_SIZE_ERROR),
                "{bad:?}"
            );
        }
        let mut s = FrameScanner::new(limits());
        s.scan(&with_preface(&[
            frame(SETTINGS, 0, 0, &[0; 12]),
            frame(PING, ACK, 0, &[0; 8]),
        ]))
        .unwrap();
    }
}
