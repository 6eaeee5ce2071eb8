//! Listening sockets and the accept loop.
//!
//! All sockets are bound in the main thread (so a bad address fails at once, and port 0
//! resolves once: the other workers bind the port the first one got). Accepting goes
//! through a std listener sharing the socket: monoio waits for readiness, std's `accept`
//! drains the queue. That way each accepted socket exists as a std handle too, which the
//! `reset-mid-stream` fault needs to set SO_LINGER without unsafe code.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::{conn, Worker};

/// Binds `threads` SO_REUSEPORT listeners on `addr`.
pub fn bind_all(addr: SocketAddr, threads: usize) -> io::Result<Vec<Socket>> {
    let mut out = Vec::with_capacity(threads);
    let mut addr = addr;
    for _ in 0..threads {
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        s.set_reuse_address(true)?;
        s.set_reuse_port(true)?;
        s.set_tcp_nodelay(true)?;
        s.bind(&addr.into())?;
        s.listen(4096)?;
        if let Some(real) = s.local_addr()?.as_socket() {
            addr = real;
        }
        out.push(s);
    }
    Ok(out)
}

/// Accepts connections on `sock` forever, one task per connection.
pub async fn accept_loop(sock: Socket, worker: Worker) -> io::Result<()> {
    let std_listener: std::net::TcpListener = sock.into();
    std_listener.set_nonblocking(true)?;
    let waiter = monoio::net::TcpListener::from_std(std_listener.try_clone()?)?;
    let worker = Rc::new(worker);
    let nonblocking = worker.driver.wants_nonblocking();
    loop {
        waiter.readable(false).await?;
        loop {
            match std_listener.accept() {
                Ok((s, _)) => {
                    if let Err(e) = start(&worker, s, nonblocking) {
                        eprintln!("tollgate-mock: cannot serve a connection: {e}");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    eprintln!("tollgate-mock: accept: {e}");
                    monoio::time::sleep(Duration::from_millis(10)).await;
                    break;
                }
            }
        }
    }
}

fn start(worker: &Rc<Worker>, s: std::net::TcpStream, nonblocking: bool) -> io::Result<()> {
    s.set_nonblocking(nonblocking)?;
    let raw = s.try_clone()?;
    let stream = monoio::net::TcpStream::from_std(s)?;
    monoio::spawn(conn::serve(worker.clone(), stream, raw));
    Ok(())
}
