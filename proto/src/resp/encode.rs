//! The command encoder: a command is an array of bulk strings, appended to a buffer the
//! caller owns (and reuses: encoding allocates nothing once it is large enough).

/// Writes one command into `out`: [`Command::new`] with the argument count, then exactly
/// that many [`Command::arg`] or [`Command::int`] calls.
///
/// ```
/// # use tollgate_proto::resp::Command;
/// let mut out = Vec::new();
/// Command::new(&mut out, 2).arg(b"GET").arg(b"k").finish();
/// assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
/// ```
#[derive(Debug)]
pub struct Command<'a> {
    out: &'a mut Vec<u8>,
    left: usize,
}

impl<'a> Command<'a> {
    pub fn new(out: &'a mut Vec<u8>, args: usize) -> Command<'a> {
        out.push(b'*');
        write_int(out, args as i64);
        out.extend_from_slice(b"\r\n");
        Command { out, left: args }
    }

    /// A binary-safe argument.
    pub fn arg(self, bytes: &[u8]) -> Command<'a> {
        debug_assert!(self.left > 0, "more arguments than announced");
        self.out.push(b'$');
        write_int(self.out, bytes.len() as i64);
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(bytes);
        self.out.extend_from_slice(b"\r\n");
        Command {
            out: self.out,
            left: self.left.saturating_sub(1),
        }
    }

    /// An integer argument, in decimal (how Redis reads numbers in `ARGV`).
    pub fn int(self, v: i64) -> Command<'a> {
        let mut digits = [0u8; 20];
        let n = format_int(&mut digits, v);
        self.arg(&digits[20 - n..])
    }

    /// Checks (in debug builds) that every announced argument was written.
    pub fn finish(self) {
        debug_assert_eq!(self.left, 0, "fewer arguments than announced");
    }
}

/// Appends `v` in decimal.
pub(super) fn write_int(out: &mut Vec<u8>, v: i64) {
    let mut digits = [0u8; 20];
    let n = format_int(&mut digits, v);
    out.extend_from_slice(&digits[20 - n..]);
}

/// Writes `v` in decimal at the end of `buf`; returns how many bytes it took.
/// 20 bytes hold `i64::MIN` ("-9223372036854775808").
fn format_int(buf: &mut [u8; 20], v: i64) -> usize {
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    buf.len() - i
}
