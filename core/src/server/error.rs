//! Why a request failed, who caused it, whether it may be retried, and the status the
//! client gets. Every error response the gateway sends is decided here.

use tollgate_proto::h1::H1Error;

/// Who caused an error (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    Client,
    Upstream,
    Gateway,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyError {
    /// The request head or body broke the HTTP/1.1 rules or a limit.
    BadRequest(H1Error),
    /// The head did not arrive within `limits.header_read_timeout`.
    HeaderTimeout,
    /// The body stalled longer than `limits.body_read_timeout`.
    BodyTimeout,
    /// The body is larger than `limits.max_body_bytes`.
    BodyTooLarge,
    /// The client closed while sending the body.
    ClientClosed,
    /// CONNECT: Tollgate is a reverse proxy, not a forward proxy.
    MethodNotAllowed,
    /// No endpoint of the cluster has an address (DNS failed) or all are full.
    NoUpstream,
    /// The per-core connection limit to the endpoint (`pool.max_per_endpoint`) is reached.
    PoolExhausted,
    ConnectFailed,
    ConnectTimeout,
    /// The TLS handshake with the upstream failed (its certificate did not verify, no
    /// common protocol, ...).
    UpstreamTls,
    /// Writing the request upstream failed.
    UpstreamWrite,
    /// The upstream closed or reset before a complete response head.
    UpstreamClosed,
    /// No response head within `first_byte_timeout`.
    FirstByteTimeout,
    /// The response head broke the framing rules.
    BadResponse(H1Error),
    /// A status the cluster retries on (`retry.on_status`), kept only when retried.
    RetryableStatus(u16),
}

impl ProxyError {
    /// The status sent to the client.
    pub fn status(self) -> u16 {
        use ProxyError::*;
        match self {
            // 400/414/431/501/505 by the rule broken; see H1Error::request_status.
            BadRequest(e) => e.request_status(),
            // RFC 9110 §15.5.9: the server timed out waiting for the request.
            HeaderTimeout | BodyTimeout => 408,
            // RFC 9110 §15.5.14.
            BodyTooLarge => 413,
            // Nobody is listening any more; the status is for the log only.
            ClientClosed => 499,
            // RFC 9110 §15.5.6.
            MethodNotAllowed => 405,
            // RFC 9110 §15.6.4: we cannot serve it now; another time may work.
            NoUpstream | PoolExhausted => 503,
            // RFC 9110 §15.6.3: the upstream failed us.
            // A certificate that does not verify is the upstream failing us too.
            ConnectFailed | UpstreamTls | UpstreamWrite | UpstreamClosed | BadResponse(_) => 502,
            RetryableStatus(s) => s,
            // RFC 9110 §15.6.5: the upstream did not answer in time.
            ConnectTimeout | FirstByteTimeout => 504,
        }
    }

    pub fn source(self) -> ErrorSource {
        use ProxyError::*;
        match self {
            BadRequest(_) | HeaderTimeout | BodyTimeout | BodyTooLarge | ClientClosed
            | MethodNotAllowed => ErrorSource::Client,
            NoUpstream | PoolExhausted => ErrorSource::Gateway,
            ConnectFailed | ConnectTimeout | UpstreamTls | UpstreamWrite | UpstreamClosed
            | FirstByteTimeout | BadResponse(_) | RetryableStatus(_) => ErrorSource::Upstream,
        }
    }

    /// A short reason for the error body and the access log.
    pub fn reason(self) -> &'static str {
        use ProxyError::*;
        match self {
            BadRequest(e) => e.reason(),
            HeaderTimeout => "timed out reading the request head",
            BodyTimeout => "timed out reading the request body",
            BodyTooLarge => "request body too large",
            ClientClosed => "client closed the connection",
            MethodNotAllowed => "CONNECT is not supported",
            NoUpstream => "no upstream endpoint available",
            PoolExhausted => "upstream connection limit reached",
            ConnectFailed => "upstream connect failed",
            ConnectTimeout => "upstream connect timed out",
            UpstreamTls => "upstream TLS handshake failed",
            UpstreamWrite => "upstream write failed",
            UpstreamClosed => "upstream closed before responding",
            FirstByteTimeout => "upstream response timed out",
            BadResponse(_) => "upstream sent an invalid response",
            RetryableStatus(_) => "upstream status retried",
        }
    }

    /// After this error the client connection cannot be trusted to stay in sync.
    pub fn must_close(self) -> bool {
        self.source() == ErrorSource::Client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let table: &[(ProxyError, u16, ErrorSource)] = &[
            (
                ProxyError::BadRequest(H1Error::ContentLengthWithTransferEncoding),
                400,
                ErrorSource::Client,
            ),
            (
                ProxyError::BadRequest(H1Error::RequestLineTooLong),
                414,
                ErrorSource::Client,
            ),
            (
                ProxyError::BadRequest(H1Error::TooManyHeaders),
                431,
                ErrorSource::Client,
            ),
            (ProxyError::HeaderTimeout, 408, ErrorSource::Client),
            (ProxyError::BodyTooLarge, 413, ErrorSource::Client),
            (ProxyError::NoUpstream, 503, ErrorSource::Gateway),
            (ProxyError::ConnectFailed, 502, ErrorSource::Upstream),
            (ProxyError::UpstreamTls, 502, ErrorSource::Upstream),
            (ProxyError::FirstByteTimeout, 504, ErrorSource::Upstream),
            (
                ProxyError::BadResponse(H1Error::InvalidContentLength),
                502,
                ErrorSource::Upstream,
            ),
        ];
        for &(e, status, src) in table {
            assert_eq!(e.status(), status, "{e:?}");
            assert_eq!(e.source(), src, "{e:?}");
        }
    }
}
