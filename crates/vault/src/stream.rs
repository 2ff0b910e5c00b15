//! Sealed files: a 36-byte header, then chunks of [`CHUNK`] plaintext bytes,
//! each sealed on its own. The last chunk is sealed as last (it may be empty),
//! so a file cut at a chunk boundary does not open; a range is read by
//! decrypting only the chunks it covers.
//!
//! Header: `AISCSTR1`, the data key's id (8 bytes), a random nonce prefix
//! (16 bytes) and the chunk size (4 bytes). Chunk `i`'s nonce is the prefix
//! and `i`; its associated data is the header, the file's context, `i` and
//! whether it is the last.
//!
//! A file can be written in one go ([`SealWriter`]) or appended to across
//! requests and restarts ([`append`], then [`finish`]; [`repair`] drops a
//! chunk torn by a crash).

use crate::{DataKey, TAG, VaultError, cipher, random, xnonce};
use chacha20poly1305::aead::{Aead, Payload};
use std::io::{Read, Seek, SeekFrom, Write};

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
/// Bytes before the first chunk.
pub const HEADER_LEN: usize = 36;
const MAGIC: &[u8; 8] = b"AISCSTR1";

/// A sealed file's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    key_id: i64,
    prefix: [u8; 16],
    chunk: u32,
}

impl Header {
    /// A header for a new file sealed with data key `key_id`.
    pub fn new(key_id: i64) -> Header {
        Header {
            key_id,
            prefix: random(),
            chunk: CHUNK as u32,
        }
    }

    /// The data key it needs.
    pub fn key_id(&self) -> i64 {
        self.key_id
    }

    /// As stored.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..16].copy_from_slice(&self.key_id.to_be_bytes());
        b[16..32].copy_from_slice(&self.prefix);
        b[32..].copy_from_slice(&self.chunk.to_be_bytes());
        b
    }

    /// Reads a stored header.
    pub fn decode(b: &[u8]) -> Result<Header, VaultError> {
        let bad = |reason| VaultError::Format {
            what: "file",
            reason,
        };
        if b.len() < HEADER_LEN || &b[..8] != MAGIC {
            return Err(bad("no header"));
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&b[8..16]);
        let mut prefix = [0u8; 16];
        prefix.copy_from_slice(&b[16..32]);
        let mut chunk = [0u8; 4];
        chunk.copy_from_slice(&b[32..36]);
        let chunk = u32::from_be_bytes(chunk);
        if chunk == 0 || chunk > 16 << 20 {
            return Err(bad("chunk size out of range"));
        }
        Ok(Header {
            key_id: i64::from_be_bytes(id),
            prefix,
            chunk,
        })
    }

    /// Reads the header at the start of `r`.
    pub fn read_from(r: &mut impl Read) -> Result<Header, VaultError> {
        let mut b = [0u8; HEADER_LEN];
        r.read_exact(&mut b)?;
        Header::decode(&b)
    }

    fn sealed_chunk(&self) -> u64 {
        u64::from(self.chunk) + TAG as u64
    }

    /// How many chunks a file of `file_len` bytes holds (the last may be short).
    pub fn chunks(&self, file_len: u64) -> u64 {
        file_len
            .saturating_sub(HEADER_LEN as u64)
            .div_ceil(self.sealed_chunk())
    }

    /// The plaintext length of a file of `file_len` bytes.
    pub fn plain_len(&self, file_len: u64) -> u64 {
        let body = file_len.saturating_sub(HEADER_LEN as u64);
        body.saturating_sub(self.chunks(file_len) * TAG as u64)
    }

    fn offset(&self, index: u64) -> u64 {
        HEADER_LEN as u64 + index * self.sealed_chunk()
    }

    fn nonce(&self, index: u64) -> [u8; 24] {
        let mut n = [0u8; 24];
        n[..16].copy_from_slice(&self.prefix);
        n[16..].copy_from_slice(&index.to_be_bytes());
        n
    }

    fn aad(&self, context: &[u8], index: u64, last: bool) -> Vec<u8> {
        let mut aad = self.encode().to_vec();
        aad.extend_from_slice(context);
        aad.extend_from_slice(&index.to_be_bytes());
        aad.push(u8::from(last));
        aad
    }

    /// Seals chunk `index` of a file.
    pub fn seal_chunk(
        &self,
        key: &DataKey,
        context: &[u8],
        index: u64,
        last: bool,
        plain: &[u8],
    ) -> Vec<u8> {
        cipher(key.bytes())
            .encrypt(
                &xnonce(&self.nonce(index)),
                Payload {
                    msg: plain,
                    aad: &self.aad(context, index, last),
                },
            )
            .unwrap_or_default()
    }

    /// Opens chunk `index` of a file.
    pub fn open_chunk(
        &self,
        key: &DataKey,
        context: &[u8],
        index: u64,
        last: bool,
        sealed: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        cipher(key.bytes())
            .decrypt(
                &xnonce(&self.nonce(index)),
                Payload {
                    msg: sealed,
                    aad: &self.aad(context, index, last),
                },
            )
            .map_err(|_| VaultError::Decrypt { what: "file chunk" })
    }
}

impl From<std::io::Error> for VaultError {
    fn from(source: std::io::Error) -> Self {
        VaultError::Io {
            what: "cannot read or write sealed file",
            path: String::new(),
            source,
        }
    }
}

/// Writes a sealed file in one pass: each chunk is sealed once the next byte
/// after it arrives, so that [`SealWriter::finish`] seals the last one as last.
#[derive(Debug)]
pub struct SealWriter<'k, W: Write> {
    out: W,
    key: &'k DataKey,
    header: Header,
    context: Vec<u8>,
    buf: Vec<u8>,
    index: u64,
    written: u64,
}

impl<'k, W: Write> SealWriter<'k, W> {
    /// Starts a file sealed with `key` (id `key_id`), bound to `context`.
    pub fn new(
        mut out: W,
        key: &'k DataKey,
        key_id: i64,
        context: &[u8],
    ) -> Result<Self, VaultError> {
        let header = Header::new(key_id);
        out.write_all(&header.encode())?;
        Ok(SealWriter {
            out,
            key,
            header,
            context: context.to_vec(),
            buf: Vec::with_capacity(2 * CHUNK),
            index: 0,
            written: 0,
        })
    }

    /// Adds plaintext.
    pub fn write(&mut self, data: &[u8]) -> Result<(), VaultError> {
        self.buf.extend_from_slice(data);
        self.written += data.len() as u64;
        let chunk = self.header.chunk as usize;
        let mut start = 0;
        while self.buf.len() - start > chunk {
            let ct = self.header.seal_chunk(
                self.key,
                &self.context,
                self.index,
                false,
                &self.buf[start..start + chunk],
            );
            self.out.write_all(&ct)?;
            self.index += 1;
            start += chunk;
        }
        self.buf.drain(..start);
        Ok(())
    }

    /// Seals the last chunk and returns the writer and the plaintext length.
    pub fn finish(mut self) -> Result<(W, u64), VaultError> {
        let ct = self
            .header
            .seal_chunk(self.key, &self.context, self.index, true, &self.buf);
        self.out.write_all(&ct)?;
        self.out.flush()?;
        Ok((self.out, self.written))
    }
}

/// Reads up to `limit` plaintext bytes from `offset` of a finished sealed file
/// of `file_len` bytes whose header has been read. Returns them and the
/// file's plaintext length.
pub fn read_range<R: Read + Seek>(
    r: &mut R,
    header: &Header,
    key: &DataKey,
    context: &[u8],
    file_len: u64,
    offset: u64,
    limit: u64,
) -> Result<(Vec<u8>, u64), VaultError> {
    let total = header.plain_len(file_len);
    let n = header.chunks(file_len);
    if n == 0 {
        return Err(VaultError::Format {
            what: "file",
            reason: "it has no last chunk",
        });
    }
    let end = offset.saturating_add(limit).min(total);
    let mut out = Vec::with_capacity(end.saturating_sub(offset) as usize);
    if offset >= end {
        // Still check the last chunk, so that a truncated file is an error.
        let last = read_chunk(r, header, key, context, n - 1, n, file_len)?;
        drop(last);
        return Ok((out, total));
    }
    let chunk = u64::from(header.chunk);
    for i in offset / chunk..=(end - 1) / chunk {
        let plain = read_chunk(r, header, key, context, i, n, file_len)?;
        let from = offset.saturating_sub(i * chunk) as usize;
        let to = ((end - i * chunk) as usize).min(plain.len());
        out.extend_from_slice(&plain[from.min(to)..to]);
    }
    Ok((out, total))
}

fn read_chunk<R: Read + Seek>(
    r: &mut R,
    header: &Header,
    key: &DataKey,
    context: &[u8],
    index: u64,
    chunks: u64,
    file_len: u64,
) -> Result<Vec<u8>, VaultError> {
    let at = header.offset(index);
    let len = header.sealed_chunk().min(file_len - at) as usize;
    let mut sealed = vec![0u8; len];
    r.seek(SeekFrom::Start(at))?;
    r.read_exact(&mut sealed)?;
    header.open_chunk(key, context, index, index + 1 == chunks, &sealed)
}

/// Appends plaintext to an unfinished sealed file (positioned anywhere) of
/// `file_len` bytes, as chunks not sealed as last. Every chunk before must be
/// full: only the final piece of a file may be shorter than [`CHUNK`].
/// Returns the new file length.
pub fn append<F: Write + Seek>(
    f: &mut F,
    header: &Header,
    key: &DataKey,
    context: &[u8],
    file_len: u64,
    data: &[u8],
) -> Result<u64, VaultError> {
    let body = file_len.saturating_sub(HEADER_LEN as u64);
    if !body.is_multiple_of(header.sealed_chunk()) {
        return Err(VaultError::Format {
            what: "file",
            reason: "only the last piece may be shorter than a chunk",
        });
    }
    f.seek(SeekFrom::Start(file_len))?;
    let mut len = file_len;
    for (index, piece) in (header.chunks(file_len)..).zip(data.chunks(header.chunk as usize)) {
        let ct = header.seal_chunk(key, context, index, false, piece);
        f.write_all(&ct)?;
        len += ct.len() as u64;
    }
    Ok(len)
}

/// The offset and bytes of the last of a file's `n` (> 0) chunks.
fn last_chunk<R: Read + Seek>(
    r: &mut R,
    header: &Header,
    n: u64,
    file_len: u64,
) -> Result<(u64, Vec<u8>), VaultError> {
    let at = header.offset(n - 1);
    let mut sealed = vec![0u8; (file_len - at) as usize];
    r.seek(SeekFrom::Start(at))?;
    r.read_exact(&mut sealed)?;
    Ok((at, sealed))
}

/// Seals an appended file's last chunk as last (or adds an empty last chunk
/// to a file with none). Returns the file length.
pub fn finish<F: Read + Write + Seek>(
    f: &mut F,
    header: &Header,
    key: &DataKey,
    context: &[u8],
    file_len: u64,
) -> Result<u64, VaultError> {
    let n = header.chunks(file_len);
    if n == 0 {
        let ct = header.seal_chunk(key, context, 0, true, &[]);
        f.seek(SeekFrom::Start(file_len))?;
        f.write_all(&ct)?;
        return Ok(file_len + ct.len() as u64);
    }
    let (at, sealed) = last_chunk(f, header, n, file_len)?;
    let plain = header.open_chunk(key, context, n - 1, false, &sealed)?;
    let ct = header.seal_chunk(key, context, n - 1, true, &plain);
    f.seek(SeekFrom::Start(at))?;
    f.write_all(&ct)?;
    Ok(file_len)
}

/// The length an unfinished file should be cut to: without its last chunk
/// if that chunk does not open (a write torn by a crash).
pub fn repair<R: Read + Seek>(
    r: &mut R,
    header: &Header,
    key: &DataKey,
    context: &[u8],
    file_len: u64,
) -> Result<u64, VaultError> {
    let n = header.chunks(file_len);
    if n == 0 {
        return Ok(HEADER_LEN as u64);
    }
    let (at, sealed) = last_chunk(r, header, n, file_len)?;
    match header.open_chunk(key, context, n - 1, false, &sealed) {
        Ok(_) => Ok(file_len),
        Err(_) => Ok(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn sealed(key: &DataKey, data: &[u8]) -> Vec<u8> {
        let mut w = SealWriter::new(Vec::new(), key, 9, b"log:1").expect("header");
        for piece in data.chunks(1000) {
            w.write(piece).expect("write");
        }
        w.finish().expect("finish").0
    }

    fn read_all(key: &DataKey, file: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut c = Cursor::new(file);
        let h = Header::read_from(&mut c)?;
        read_range(&mut c, &h, key, b"log:1", file.len() as u64, 0, u64::MAX).map(|(b, _)| b)
    }

    #[test]
    fn a_file_cut_at_a_chunk_boundary_or_given_another_context_does_not_open() {
        let key = DataKey::generate();
        let data = vec![7u8; 3 * CHUNK + 10];
        let file = sealed(&key, &data);
        assert_eq!(read_all(&key, &file).expect("opens"), data);
        let cut = &file[..HEADER_LEN + 3 * (CHUNK + TAG)];
        assert!(read_all(&key, cut).is_err());
        let mut c = Cursor::new(&file);
        let h = Header::read_from(&mut c).expect("header");
        assert_eq!(h.key_id(), 9);
        assert!(read_range(&mut c, &h, &key, b"log:2", file.len() as u64, 0, 10).is_err());
    }

    #[test]
    fn an_appended_file_is_repaired_after_a_torn_write_and_finishes_like_one_written_at_once() {
        let key = DataKey::generate();
        let header = Header::new(4);
        let mut f = Cursor::new(header.encode().to_vec());
        let mut len = HEADER_LEN as u64;
        len = append(&mut f, &header, &key, b"data:1", len, &[1u8; 2 * CHUNK]).expect("first");
        // A torn write: half a chunk of garbage.
        f.get_mut().extend_from_slice(&[0u8; 100]);
        let torn = f.get_ref().len() as u64;
        let good = repair(&mut f, &header, &key, b"data:1", torn).expect("repair");
        assert_eq!(good, len);
        f.get_mut().truncate(good as usize);
        assert!(append(&mut f, &header, &key, b"data:1", len, &[2u8; 5]).is_ok());
        let len = f.get_ref().len() as u64;
        // A short piece was the last: nothing may follow it.
        assert!(append(&mut f, &header, &key, b"data:1", len, &[3u8; 5]).is_err());
        let len = finish(&mut f, &header, &key, b"data:1", len).expect("finish");
        let (plain, total) =
            read_range(&mut f, &header, &key, b"data:1", len, 0, u64::MAX).expect("read");
        assert_eq!(total, 2 * CHUNK as u64 + 5);
        assert_eq!(&plain[2 * CHUNK..], &[2u8; 5]);
    }

    #[test]
    fn an_empty_file_has_one_empty_last_chunk() {
        let key = DataKey::generate();
        let file = sealed(&key, b"");
        assert_eq!(file.len(), HEADER_LEN + TAG);
        assert_eq!(read_all(&key, &file).expect("opens"), Vec::<u8>::new());
        let header = Header::new(1);
        let mut f = Cursor::new(header.encode().to_vec());
        let len = finish(&mut f, &header, &key, b"x", HEADER_LEN as u64).expect("finish");
        assert_eq!(len, (HEADER_LEN + TAG) as u64);
        assert!(Header::decode(b"short").is_err());
    }

    proptest! {
        #[test]
        fn any_range_reads_what_was_written(len in 0usize..(3 * CHUNK), offset in 0u64..(4 * CHUNK as u64), limit in 0u64..(2 * CHUNK as u64)) {
            let key = DataKey::generate();
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let file = sealed(&key, &data);
            let mut c = Cursor::new(&file);
            let h = Header::read_from(&mut c).expect("header");
            let (got, total) = read_range(&mut c, &h, &key, b"log:1", file.len() as u64, offset, limit).expect("read");
            prop_assert_eq!(total, len as u64);
            let from = (offset as usize).min(len);
            let to = (offset.saturating_add(limit) as usize).min(len);
            prop_assert_eq!(&got[..], &data[from..to.max(from)]);
        }
    }
}
