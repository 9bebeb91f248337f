//! A streaming rec writer: records are buffered into one chunk at a time and written out,
//! so memory stays bounded by the chunk size whatever the file size.

use std::io::{self, Write};

use crate::chunk::{ChunkHeader, Compression, MAX_PAYLOAD_LEN};
use crate::header::{VIN_LEN, encode_file_header};
use crate::record::Record;

/// How a [`RecWriter`] cuts and compresses chunks.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// A chunk is written once its raw payload reaches this many bytes. Default 1 MiB.
    pub chunk_bytes: usize,
    /// Compression of the chunks written from now on. Default none.
    pub compression: Compression,
    /// zstd level for compressed chunks. Default 1 (fast).
    pub zstd_level: i32,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self { chunk_bytes: 1 << 20, compression: Compression::None, zstd_level: 1 }
    }
}

/// Writes a rec file record by record.
#[derive(Debug)]
pub struct RecWriter<W: Write> {
    out: W,
    config: WriterConfig,
    payload: Vec<u8>,
    records: u32,
    ts_range: Option<(u64, u64)>,
    compressed: Vec<u8>,
    bytes_written: u64,
}

impl<W: Write> RecWriter<W> {
    /// Writes the file header and returns a writer for the chunks.
    pub fn new(
        mut out: W,
        vin: &[u8; VIN_LEN],
        session_start_ns: u64,
        firmware: &str,
        config: WriterConfig,
    ) -> io::Result<Self> {
        let header = encode_file_header(vin, session_start_ns, firmware);
        out.write_all(&header)?;
        Ok(Self {
            out,
            config,
            payload: Vec::with_capacity(config.chunk_bytes),
            records: 0,
            ts_range: None,
            compressed: Vec::new(),
            bytes_written: header.len() as u64,
        })
    }

    /// Appends a record, writing the current chunk first when the record would not fit.
    pub fn push(&mut self, record: &Record<'_>) -> io::Result<()> {
        let len = record.encoded_len();
        let would_be = self.payload.len() + len;
        if self.records > 0 && (would_be > self.config.chunk_bytes || would_be > MAX_PAYLOAD_LEN as usize) {
            self.flush_chunk()?;
        }
        record.encode_into(&mut self.payload);
        self.records += 1;
        self.ts_range = Some(match self.ts_range {
            Some((first, _)) => (first, record.ts_ns),
            None => (record.ts_ns, record.ts_ns),
        });
        if self.payload.len() >= self.config.chunk_bytes {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// Changes the compression of the chunks written from now on.
    pub fn set_compression(&mut self, compression: Compression) {
        self.config.compression = compression;
    }

    /// Writes the buffered records as one chunk (nothing when there are none).
    pub fn flush_chunk(&mut self) -> io::Result<()> {
        if self.records == 0 {
            return Ok(());
        }
        let (first, last) = self.ts_range.unwrap_or((0, 0));
        let n = write_chunk(
            &mut self.out,
            &self.payload,
            self.records,
            (first, last),
            self.config.compression,
            self.config.zstd_level,
            &mut self.compressed,
        )?;
        self.bytes_written += n;
        self.payload.clear();
        self.records = 0;
        self.ts_range = None;
        Ok(())
    }

    /// Bytes written so far (header and complete chunks).
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Writes the last chunk and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_chunk()?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes one chunk holding `payload` (encoded records), compressing it with zstd when
/// asked; returns the bytes written. `scratch` is reused for the compressed form.
pub fn write_chunk<W: Write>(
    out: &mut W,
    payload: &[u8],
    record_count: u32,
    (first_ts_ns, last_ts_ns): (u64, u64),
    compression: Compression,
    zstd_level: i32,
    scratch: &mut Vec<u8>,
) -> io::Result<u64> {
    let stored: &[u8] = match compression {
        Compression::None => payload,
        Compression::Zstd => {
            scratch.clear();
            scratch.reserve(zstd::zstd_safe::compress_bound(payload.len()));
            zstd::bulk::Compressor::new(zstd_level)?.compress_to_buffer(payload, scratch)?;
            scratch
        }
    };
    let too_big = || io::Error::new(io::ErrorKind::InvalidInput, "chunk payload over 64 MiB");
    let header = ChunkHeader {
        stored_len: u32::try_from(stored.len()).map_err(|_| too_big())?,
        raw_len: u32::try_from(payload.len()).map_err(|_| too_big())?,
        record_count,
        compression: compression.code(),
        first_ts_ns,
        last_ts_ns,
        payload_crc: crate::crc::crc32c(stored),
    };
    if header.stored_len > MAX_PAYLOAD_LEN || header.raw_len > MAX_PAYLOAD_LEN {
        return Err(too_big());
    }
    out.write_all(&header.encode())?;
    out.write_all(stored)?;
    Ok(header.span_len())
}
