//! The inside of a v2 batch: decompressing and compressing its records section, and walking
//! raw records without decoding them into owned values (so a rewritten batch keeps every
//! record byte-for-byte, duplicate header names included).

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};

use crate::log::batch::HEADER_SIZE;

/// The records section of a batch, decompressed.
pub(crate) fn decompress(codec: i16, payload: &[u8]) -> Result<Bytes, String> {
    let mut buf = Bytes::copy_from_slice(payload);
    let take = |b: &mut Bytes| Ok(b.clone());
    match codec {
        0 => Ok(buf),
        1 => Gzip::decompress(&mut buf, take),
        2 => Snappy::decompress(&mut buf, take),
        3 => Lz4::decompress(&mut buf, take),
        4 => Zstd::decompress(&mut buf, take),
        other => return Err(format!("unknown compression codec {other}")),
    }
    .map_err(|e| format!("decompressing codec {codec}: {e}"))
}

/// `raw` compressed with `codec`.
pub(crate) fn compress(codec: i16, raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = BytesMut::new();
    let fill = |b: &mut BytesMut| {
        b.extend_from_slice(raw);
        Ok(())
    };
    match codec {
        0 => return Ok(raw.to_vec()),
        1 => Gzip::compress(&mut out, fill),
        2 => Snappy::compress(&mut out, fill),
        3 => Lz4::compress(&mut out, fill),
        4 => Zstd::compress(&mut out, fill),
        other => return Err(format!("unknown compression codec {other}")),
    }
    .map_err(|e| format!("compressing codec {codec}: {e}"))?;
    Ok(out.to_vec())
}

/// One record as stored: its position in the batch, its key and whether its value is null.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRecord<'a> {
    pub(crate) offset_delta: i32,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) null_value: bool,
    /// The whole record including its length prefix.
    pub(crate) bytes: &'a [u8],
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<i64, String> {
    let mut shift = 0u32;
    let mut raw = 0u64;
    loop {
        let byte = *buf.get(*pos).ok_or("record truncated inside a varint")?;
        *pos += 1;
        raw |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return Err("varint longer than 10 bytes".into());
        }
    }
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

fn bytes_field<'a>(buf: &'a [u8], pos: &mut usize) -> Result<Option<&'a [u8]>, String> {
    let len = varint(buf, pos)?;
    if len < 0 {
        return Ok(None);
    }
    let end = pos
        .checked_add(len as usize)
        .filter(|e| *e <= buf.len())
        .ok_or("record field runs past the record")?;
    let out = &buf[*pos..end];
    *pos = end;
    Ok(Some(out))
}

/// Walks the records of an uncompressed records section.
pub(crate) fn walk(raw: &[u8]) -> Result<Vec<RawRecord<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < raw.len() {
        let start = pos;
        let len = varint(raw, &mut pos)?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| pos.checked_add(l))
            .filter(|e| *e <= raw.len())
            .ok_or("record length runs past the batch")?;
        let body = &raw[..end];
        let mut p = pos + 1; // attributes
        varint(body, &mut p)?; // timestamp delta
        let offset_delta =
            i32::try_from(varint(body, &mut p)?).map_err(|_| "offset delta out of range")?;
        let key = bytes_field(body, &mut p)?;
        let null_value = bytes_field(body, &mut p)?.is_none();
        out.push(RawRecord {
            offset_delta,
            key,
            null_value,
            bytes: &raw[start..end],
        });
        pos = end;
    }
    Ok(out)
}

/// The records section of `batch` (everything after the header), decompressed.
pub(crate) fn records_section(batch: &[u8], codec: i16) -> Result<Bytes, String> {
    let payload = batch
        .get(HEADER_SIZE..)
        .ok_or("batch shorter than its header")?;
    decompress(codec, payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::test_support::batch;

    #[test]
    fn walks_records_and_round_trips_every_codec() {
        let b = batch(
            &[
                (Some(b"a"), Some(b"1")),
                (None, Some(b"2")),
                (Some(b"c"), None),
            ],
            0,
        );
        let section = records_section(&b, 0).expect("section");
        let recs = walk(&section).expect("walk");
        assert_eq!(recs.len(), 3);
        assert_eq!(
            (recs[0].offset_delta, recs[0].key, recs[0].null_value),
            (0, Some(&b"a"[..]), false)
        );
        assert_eq!(
            (recs[1].key, recs[2].offset_delta, recs[2].null_value),
            (None, 2, true)
        );
        let joined: Vec<u8> = recs.iter().flat_map(|r| r.bytes.iter().copied()).collect();
        assert_eq!(joined, section.to_vec());
        for codec in 1..=4 {
            let packed = compress(codec, &section).expect("compress");
            assert_eq!(
                decompress(codec, &packed).expect("decompress"),
                section,
                "codec {codec}"
            );
        }
    }

    #[test]
    fn malformed_sections_are_errors() {
        assert!(walk(&[0x7f]).is_err(), "length past the end");
        assert!(walk(&[0x80, 0x80]).is_err(), "truncated varint");
        assert!(decompress(9, b"x").is_err());
    }
}
