//! The proxy loop on glommio.
//!
//! glommio's sockets implement futures-lite's `AsyncRead`/`AsyncWrite` over borrowed
//! buffers (glommio copies between its own registered buffers and ours), so a connection
//! keeps two zero-filled `Vec<u8>` and a fill count for each. glommio needs io_uring and
//! locked memory for its registered buffers; when it cannot set them up, [`run`] returns
//! the error it got.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use glommio::{LocalExecutorBuilder, Placement};

use super::{message_len, Kind, ProxyConfig, BUF_SIZE, MAX_MESSAGE, POOL_MAX_IDLE};

type Pool = Rc<RefCell<Vec<TcpStream>>>;

/// Runs the loop on the current thread (not pinned by glommio: pin the process with
/// `taskset`) until an accept error or a setup error.
pub fn run(cfg: ProxyConfig) -> io::Result<()> {
    let ex = LocalExecutorBuilder::new(Placement::Unbound)
        .make()
        .map_err(|e| io::Error::other(format!("glommio executor: {e}")))?;
    ex.run(serve(cfg))
}

async fn serve(cfg: ProxyConfig) -> io::Result<()> {
    let listener = TcpListener::bind(cfg.listen)?;
    let pool: Pool = Rc::new(RefCell::new(Vec::new()));
    loop {
        let client = listener.accept().await?;
        client.set_nodelay(true)?;
        let pool = pool.clone();
        glommio::spawn_local(async move {
            // A failed connection only closes itself.
            let _ = connection(client, cfg, pool).await;
        })
        .detach();
    }
}

/// A buffer and how many of its bytes are filled.
struct Filled {
    buf: Vec<u8>,
    len: usize,
}

impl Filled {
    fn new() -> Filled {
        Filled {
            buf: vec![0; BUF_SIZE],
            len: 0,
        }
    }

    /// Drops the first `n` bytes, keeping what follows.
    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }
}

async fn connection(mut client: TcpStream, cfg: ProxyConfig, pool: Pool) -> io::Result<()> {
    let mut req = Filled::new();
    let mut resp = Filled::new();
    loop {
        let Some(n) = read_message(&mut client, &mut req, Kind::Request).await? else {
            return Ok(());
        };
        let upstream = pool.borrow_mut().pop();
        let mut upstream = match upstream {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(cfg.upstream).await?;
                s.set_nodelay(true)?;
                s
            }
        };
        upstream.write_all(&req.buf[..n]).await?;
        req.consume(n);

        resp.len = 0;
        let Some(m) = read_message(&mut upstream, &mut resp, Kind::Response).await? else {
            return Err(io::ErrorKind::UnexpectedEof.into());
        };
        // Bytes past the response mean the upstream is out of step: drop that connection.
        if resp.len == m && pool.borrow().len() < POOL_MAX_IDLE {
            pool.borrow_mut().push(upstream);
        }
        client.write_all(&resp.buf[..m]).await?;
    }
}

/// Reads until `f` holds a whole message; returns its length, or `None` on a clean EOF
/// before any byte of a message.
async fn read_message(
    stream: &mut TcpStream,
    f: &mut Filled,
    kind: Kind,
) -> io::Result<Option<usize>> {
    loop {
        if f.len > 0 {
            match message_len(&f.buf[..f.len], kind) {
                Ok(Some(n)) if f.len >= n => return Ok(Some(n)),
                Ok(Some(n)) if n > f.buf.len() => f.buf.resize(n, 0),
                Ok(_) => {}
                Err(e) => return Err(io::Error::other(format!("{e:?}"))),
            }
        }
        if f.len == f.buf.len() {
            if f.buf.len() >= MAX_MESSAGE {
                return Err(io::Error::other("message too large"));
            }
            f.buf.resize(f.buf.len() * 2, 0);
        }
        let n = stream.read(&mut f.buf[f.len..]).await?;
        match n {
            0 if f.len == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => f.len += n,
        }
    }
}
