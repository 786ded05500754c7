//! Writes a range of a segment file to a client socket with `sendfile(2)`: the bytes go
//! from the page cache to the socket without a copy through the broker. Where the kernel
//! refuses (a filesystem without `sendfile` support), the range is read and written instead.

use std::io;

use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

use crate::log::FileSlice;

/// Sends all of `slice` to `write`'s socket.
pub(crate) async fn send_slice(write: &mut OwnedWriteHalf, slice: &FileSlice) -> io::Result<()> {
    let stream: &TcpStream = write.as_ref();
    let mut pos = slice.position();
    let end = pos + slice.len() as u64;
    while pos < end {
        let want = usize::try_from(end - pos).unwrap_or(usize::MAX);
        let sent = stream
            .async_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(stream, slice.file(), Some(&mut pos), want)
                    .map_err(io::Error::from)
            })
            .await;
        match sent {
            // The file ends before the range does: the segment was cut under us.
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "segment file shorter than the range being sent",
                ));
            }
            Ok(_) => {}
            Err(e)
                if pos == slice.position()
                    && matches!(
                        e.kind(),
                        io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
                    ) =>
            {
                let bytes = slice.read().map_err(io::Error::other)?;
                return write.write_all(&bytes).await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
