//! The byte tunnel after `101 Switching Protocols` (WebSocket and the like): bytes
//! already buffered on either side are flushed first, then both directions are copied
//! until either side closes.

use bytes::BytesMut;
use monoio::io::Splitable;
use monoio::net::TcpStream;

use super::io::write_buf;

pub async fn run(
    mut client: TcpStream,
    client_buf: BytesMut,
    mut upstream: TcpStream,
    up_buf: BytesMut,
) {
    if !client_buf.is_empty() && write_buf(&mut upstream, client_buf).await.is_err() {
        return;
    }
    if !up_buf.is_empty() && write_buf(&mut client, up_buf).await.is_err() {
        return;
    }
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    monoio::select! {
        _ = monoio::io::copy(&mut cr, &mut uw) => {},
        _ = monoio::io::copy(&mut ur, &mut cw) => {},
    }
}
