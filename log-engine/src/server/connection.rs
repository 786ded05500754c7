//! One client connection: read size-prefixed frames, handle requests strictly in order,
//! and write responses in the same order.
//!
//! Handling has two phases. The first runs in request order before the next frame is read
//! (so appends from one connection land in order); it may return a deferred part — waiting
//! for an fsync, or a fetch's long poll — that a writer task resolves in order. This lets a
//! producer keep several requests in flight, and their fsyncs merge into one.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::send_file;
use crate::api::{self, Auth, Chunk, Reply};
use crate::broker::Broker;

/// Requests a connection may have in flight before reading pauses.
const MAX_IN_FLIGHT: usize = 64;

/// Why a frame could not be read.
#[derive(Debug)]
enum FrameError {
    Io(std::io::Error),
    Size(String),
}

async fn read_frame(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    max: usize,
) -> Result<Option<Bytes>, FrameError> {
    let mut size = [0u8; 4];
    match reader.read_exact(&mut size).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(FrameError::Io(e)),
    }
    let len = i32::from_be_bytes(size);
    if size[0] == 0x16 && size[1] == 0x03 {
        return Err(FrameError::Size(
            "the client sent a TLS handshake to a plaintext listener".into(),
        ));
    }
    let len =
        usize::try_from(len).map_err(|_| FrameError::Size(format!("negative frame size {len}")))?;
    if len > max {
        return Err(FrameError::Size(format!(
            "frame of {len} bytes exceeds socket.request.max.bytes ({max})"
        )));
    }
    // Filled straight from the socket buffer: zeroing megabyte frames first cost a memset.
    let mut buf = BytesMut::with_capacity(len);
    while buf.len() < len {
        let mut limited = (&mut *reader).take((len - buf.len()) as u64);
        if limited.read_buf(&mut buf).await.map_err(FrameError::Io)? == 0 {
            return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
    Ok(Some(buf.freeze()))
}

/// Serves one connection until the client closes it or sends something unservable.
pub(crate) async fn serve(broker: Arc<Broker>, stream: TcpStream, peer: SocketAddr) {
    let (read, write) = stream.into_split();
    let mut reader = BufReader::with_capacity(64 * 1024, read);
    let (tx, rx) = mpsc::channel::<Reply>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_loop(write, rx, peer));
    let max = broker.config().max_request_bytes;
    let mut auth = Auth::for_listener(&broker);
    loop {
        let frame = match read_frame(&mut reader, max).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(FrameError::Io(e)) => {
                tracing::debug!(%peer, error = %e, "connection read failed");
                break;
            }
            Err(FrameError::Size(reason)) => {
                tracing::warn!(%peer, %reason, "closing connection");
                break;
            }
        };
        match api::handle(&broker, frame, peer, &mut auth).await {
            Ok(reply) => {
                if tx.send(reply).await.is_err() {
                    break;
                }
                if auth == Auth::Failed {
                    // Answered; the writer sends it, then closes.
                    break;
                }
            }
            Err(reason) => {
                tracing::warn!(%peer, %reason, "closing connection");
                break;
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

async fn write_loop(mut write: OwnedWriteHalf, mut rx: mpsc::Receiver<Reply>, peer: SocketAddr) {
    while let Some(reply) = rx.recv().await {
        let written = match reply {
            Reply::Ready(bytes) => write.write_all(&bytes).await,
            Reply::Deferred(fut) => match fut.await {
                Some(bytes) => write.write_all(&bytes).await,
                None => continue,
            },
            Reply::Spliced(fut) => match fut.await {
                Some(chunks) => write_chunks(&mut write, &chunks).await,
                None => continue,
            },
            Reply::None => continue,
        };
        if let Err(e) = written {
            // A frame cut short cannot be resumed: the connection ends here.
            tracing::debug!(%peer, error = %e, "connection write failed");
            return;
        }
    }
    let _ = write.shutdown().await;
}

async fn write_chunks(write: &mut OwnedWriteHalf, chunks: &[Chunk]) -> std::io::Result<()> {
    for chunk in chunks {
        match chunk {
            Chunk::Bytes(bytes) => write.write_all(bytes).await?,
            Chunk::File(slice) => send_file::send_slice(write, slice).await?,
        }
    }
    Ok(())
}
