//! The [`request_response::Codec`] of `payload_by_number`: reading requests and writing
//! responses in the [`super::wire`] format, within op-node's timeouts.

use std::{io, time::Duration};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{request_response, StreamProtocol};

use super::wire::{
    decode_response, encode_response, PayloadRequest, PayloadResponse, ResultCode,
    MAX_RESPONSE_SIZE, REQUEST_LEN,
};

/// The [`request_response::Codec`] of `payload_by_number`, with op-node's read and write
/// timeouts. The server reads requests and writes responses; the client half (write a
/// request, read a response) exists for tests and tools.
#[derive(Debug, Clone, Copy)]
pub struct PayloadCodec {
    read_timeout: Duration,
    write_timeout: Duration,
}

impl Default for PayloadCodec {
    fn default() -> Self {
        Self::new(Duration::from_secs(10), Duration::from_secs(10))
    }
}

impl PayloadCodec {
    /// A codec giving up on a read after `read_timeout` and on a write after `write_timeout`.
    pub const fn new(read_timeout: Duration, write_timeout: Duration) -> Self {
        Self {
            read_timeout,
            write_timeout,
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

async fn write_timed<T>(io: &mut T, bytes: &[u8], timeout: Duration) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
{
    tokio::time::timeout(timeout, async {
        io.write_all(bytes).await?;
        io.flush().await
    })
    .await
    .map_err(|_| timed_out("write"))?
}

impl request_response::Codec for PayloadCodec {
    type Protocol = StreamProtocol;
    type Request = PayloadRequest;
    type Response = PayloadResponse;

    /// Reads to the end of the asker's half of the stream, keeping at most nine bytes (one
    /// more than a well-formed request, to recognise a long one without reading it all).
    /// An asker that sends exactly eight bytes but never closes its side is answered when the
    /// read timeout expires rather than dropped.
    async fn read_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<PayloadRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let deadline = tokio::time::Instant::now() + self.read_timeout;
        let mut buf = [0u8; REQUEST_LEN + 1];
        let mut len = 0;
        while len < buf.len() {
            match tokio::time::timeout_at(deadline, io.read(&mut buf[len..])).await {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => len += n,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Err(e),
                Err(_) if len == REQUEST_LEN => break,
                Err(_) => return Err(timed_out("request read")),
            }
        }
        Ok(PayloadRequest::parse(&buf[..len]))
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<PayloadResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut bytes = Vec::new();
        tokio::time::timeout(
            self.read_timeout,
            (&mut *io)
                .take(MAX_RESPONSE_SIZE as u64 + 1)
                .read_to_end(&mut bytes),
        )
        .await
        .map_err(|_| timed_out("response read"))??;
        Ok(decode_response(&bytes)?)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: PayloadRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_timed(io, &request.to_bytes(), self.write_timeout).await
    }

    /// Encodes (snappy-compresses) the response in the connection's task, not the swarm's.
    /// A payload too large to send is answered with result 3.
    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: PayloadResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let bytes =
            encode_response(&response).unwrap_or_else(|_| vec![ResultCode::Unknown.as_byte()]);
        write_timed(io, &bytes, self.write_timeout).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::reqresp::wire::ServedPayload;
    use futures::io::Cursor;

    fn protocol() -> StreamProtocol {
        StreamProtocol::new("/opstack/req/payload_by_number/10/0")
    }

    async fn read(bytes: &[u8]) -> io::Result<PayloadRequest> {
        let mut codec = PayloadCodec::default();
        request_response::Codec::read_request(&mut codec, &protocol(), &mut Cursor::new(bytes))
            .await
    }

    #[tokio::test]
    async fn requests_are_eight_little_endian_bytes() {
        let bytes = 0x0102_0304_0506_0708u64.to_le_bytes();
        assert_eq!(
            read(&bytes).await.unwrap(),
            PayloadRequest::Number(0x0102_0304_0506_0708)
        );
        assert_eq!(read(&[0; 8]).await.unwrap(), PayloadRequest::Number(0));
        assert_eq!(
            read(&[0xff; 8]).await.unwrap().number(),
            Some(u64::MAX),
            "the whole u64 range"
        );
    }

    #[tokio::test]
    async fn short_long_and_empty_requests_are_malformed() {
        assert_eq!(read(&[]).await.unwrap(), PayloadRequest::Malformed(vec![]));
        assert_eq!(
            read(&[1, 2, 3]).await.unwrap(),
            PayloadRequest::Malformed(vec![1, 2, 3])
        );
        // Only nine bytes of a long request are read.
        let long = read(&[7; 100]).await.unwrap();
        assert_eq!(long, PayloadRequest::Malformed(vec![7; 9]));
        assert_eq!(long.number(), None);
    }

    /// Sends `bytes`, then neither more nor EOF.
    struct Stalling(Cursor<Vec<u8>>);

    impl AsyncRead for Stalling {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<io::Result<usize>> {
            match std::pin::Pin::new(&mut self.0).poll_read(cx, buf) {
                std::task::Poll::Ready(Ok(0)) => std::task::Poll::Pending,
                other => other,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_never_ends_is_cut_off_by_the_read_timeout() {
        let mut codec = PayloadCodec::new(Duration::from_secs(10), Duration::from_secs(10));
        let started = tokio::time::Instant::now();
        // Eight bytes without a close: answered once the timeout expires.
        let mut stalled = Stalling(Cursor::new(5u64.to_le_bytes().to_vec()));
        let request = request_response::Codec::read_request(&mut codec, &protocol(), &mut stalled)
            .await
            .unwrap();
        assert_eq!(request, PayloadRequest::Number(5));
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        // Fewer: the stream is given up.
        let mut stalled = Stalling(Cursor::new(vec![1, 2, 3]));
        let error = request_response::Codec::read_request(&mut codec, &protocol(), &mut stalled)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn requests_round_trip_through_the_client_half() {
        let mut codec = PayloadCodec::default();
        let mut out = Cursor::new(Vec::new());
        request_response::Codec::write_request(
            &mut codec,
            &protocol(),
            &mut out,
            PayloadRequest::Number(42),
        )
        .await
        .unwrap();
        assert_eq!(out.get_ref(), &42u64.to_le_bytes());
        assert_eq!(
            read(out.get_ref()).await.unwrap(),
            PayloadRequest::Number(42)
        );
    }

    #[tokio::test]
    async fn write_response_answers_3_when_the_payload_is_too_large() {
        let mut codec = PayloadCodec::default();
        let mut out = Cursor::new(Vec::new());
        let huge = PayloadResponse::Payload(Arc::new(ServedPayload {
            version: 1,
            data: vec![0; MAX_RESPONSE_SIZE + 1],
        }));
        request_response::Codec::write_response(&mut codec, &protocol(), &mut out, huge)
            .await
            .unwrap();
        assert_eq!(out.get_ref(), &[3]);
    }
}
