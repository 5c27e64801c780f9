//! Volume upload and download: copying between a volume's file and an rvirt stream.
//!
//! This is libvirt's `virStorageBackendVolUploadLocal`/`DownloadLocal` over a file stream
//! (`virfdstream.c`): the transfer starts at `offset` and covers `length` bytes (0 = up to the end
//! of the file on download, unlimited on upload). With a sparse stream, download finds the file's
//! holes with `SEEK_DATA`/`SEEK_HOLE` and sends them as holes instead of zeroes; upload turns
//! received holes back into holes (punching out old data) rather than writing zeroes. Both run on
//! a blocking thread the driver provides; the stream's bounded channel paces them.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::os::unix::io::AsRawFd;

use rvirt::error::{code, domain};
use rvirt::stream::{Chunk, StreamSink, StreamSource, CHUNK_MAX};
use rvirt::Error;

use crate::error::errno_text;

fn sys(what: String, err: &std::io::Error) -> Error {
    Error::new(
        code::SYSTEM_ERROR,
        domain::STREAMS,
        format!("{what}: {}", errno_text(err)),
    )
}

fn open(path: &str, write: bool) -> Result<File, Error> {
    OpenOptions::new()
        .read(!write)
        .write(write)
        .open(path)
        .map_err(|e| sys(format!("Unable to open stream for '{path}'"), &e))
}

/// Where the next data starts at or after `pos` (`SEEK_DATA`); `None` when only a hole follows.
fn next_data(file: &File, pos: u64) -> std::io::Result<Option<u64>> {
    // SAFETY: lseek on a file descriptor we own; no memory is passed.
    let r = unsafe { libc::lseek(file.as_raw_fd(), pos as libc::off_t, libc::SEEK_DATA) };
    if r >= 0 {
        return Ok(Some(r as u64));
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENXIO) => Ok(None),
        // A file system without hole reporting: all of it is data.
        Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => Ok(Some(pos)),
        _ => Err(e),
    }
}

/// Where the data starting at `pos` ends (`SEEK_HOLE`; the end of file counts as a hole).
fn next_hole(file: &File, pos: u64, end: u64) -> std::io::Result<u64> {
    // SAFETY: as in next_data.
    let r = unsafe { libc::lseek(file.as_raw_fd(), pos as libc::off_t, libc::SEEK_HOLE) };
    if r >= 0 {
        return Ok(r as u64);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => Ok(end),
        _ => Err(e),
    }
}

/// Streams `path` from `offset` for `length` bytes (0 = to the end) into `sink`, then finishes it.
/// Returns the number of data bytes sent (holes excluded).
pub fn download(
    path: &str,
    offset: u64,
    length: u64,
    sparse: bool,
    mut sink: StreamSink,
) -> Result<u64, Error> {
    let mut file = match open(path, false) {
        Ok(f) => f,
        Err(e) => {
            sink.blocking_fail(e.clone());
            return Err(e);
        }
    };
    let run = |file: &mut File, sink: &mut StreamSink| -> Result<u64, Error> {
        let size = file
            .seek(SeekFrom::End(0))
            .map_err(|e| sys(format!("Unable to access stream for '{path}'"), &e))?;
        let end = if length == 0 {
            size
        } else {
            size.min(offset.saturating_add(length))
        };
        let mut pos = offset;
        let mut sent = 0u64;
        let mut buf = vec![0u8; CHUNK_MAX];
        while pos < end {
            let data_end = if sparse {
                let data = next_data(file, pos)
                    .map_err(|e| sys(format!("Unable to seek in '{path}'"), &e))?
                    .unwrap_or(end)
                    .min(end);
                if data > pos {
                    sink.blocking_send(Chunk::Hole(data - pos))?;
                    pos = data;
                    continue;
                }
                next_hole(file, pos, end)
                    .map_err(|e| sys(format!("Unable to seek in '{path}'"), &e))?
                    .min(end)
            } else {
                end
            };
            while pos < data_end {
                let want = ((data_end - pos) as usize).min(CHUNK_MAX);
                let n = file
                    .read_at(&mut buf[..want], pos)
                    .map_err(|e| sys(format!("Unable to read from '{path}'"), &e))?;
                if n == 0 {
                    // The file shrank under us: what is left is the end.
                    return Ok(sent);
                }
                sink.blocking_send(Chunk::Data(buf[..n].to_vec()))?;
                pos += n as u64;
                sent += n as u64;
            }
        }
        Ok(sent)
    };
    match run(&mut file, &mut sink) {
        Ok(sent) => {
            sink.blocking_finish()?;
            Ok(sent)
        }
        Err(e) => {
            sink.blocking_fail(e.clone());
            Err(e)
        }
    }
}

/// The length of what `file` holds: a regular file's size, a block device's capacity (its
/// `st_size` is 0).
fn content_len(file: &File) -> std::io::Result<u64> {
    let meta = file.metadata()?;
    if meta.file_type().is_block_device() {
        // SAFETY: lseek on a file descriptor we own; no memory is passed.
        let end = unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_END) };
        if end < 0 {
            return Err(std::io::Error::last_os_error());
        }
        return Ok(end as u64);
    }
    Ok(meta.len())
}

/// Writes `len` zero bytes at `pos`.
fn write_zeroes(file: &File, pos: u64, len: u64) -> std::io::Result<()> {
    let zeroes = vec![0u8; CHUNK_MAX.min(len as usize)];
    let mut done = 0;
    while done < len {
        let n = ((len - done) as usize).min(CHUNK_MAX);
        file.write_all_at(&zeroes[..n], pos + done)?;
        done += n as u64;
    }
    Ok(())
}

/// `fallocate(PUNCH_HOLE | KEEP_SIZE)`.
fn fallocate_punch(file: &File, pos: u64, len: u64) -> std::io::Result<()> {
    // SAFETY: fallocate on a file descriptor we own; no memory is passed.
    let r = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            pos as libc::off_t,
            len as libc::off_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Punches `[pos, pos+len)` out of `file` so it reads back as zeroes without using space. A
/// block device (a logical volume) only discards whole 4 KiB-aligned blocks: the unaligned
/// edges are written as zeroes.
fn punch(file: &File, pos: u64, len: u64) -> std::io::Result<()> {
    let e = match fallocate_punch(file, pos, len) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    match e.raw_os_error() {
        // No hole punching here: write the zeroes instead.
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => write_zeroes(file, pos, len),
        Some(libc::EINVAL) if file.metadata()?.file_type().is_block_device() => {
            const BLOCK: u64 = 4096;
            let end = pos + len;
            let (a, b) = (pos.div_ceil(BLOCK) * BLOCK, end / BLOCK * BLOCK);
            if a >= b {
                return write_zeroes(file, pos, len);
            }
            write_zeroes(file, pos, a - pos)?;
            match fallocate_punch(file, a, b - a) {
                Ok(()) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP)) => {
                    write_zeroes(file, a, b - a)?
                }
                Err(e) => return Err(e),
            }
            write_zeroes(file, b, end - b)
        }
        _ => Err(e),
    }
}

/// Writes what arrives on `source` into `path` from `offset`, at most `length` bytes (0 = no
/// limit), and reports the outcome to the sender's finish. Returns the bytes written.
pub fn upload(
    path: &str,
    offset: u64,
    length: u64,
    sparse: bool,
    mut source: StreamSource,
) -> Result<u64, Error> {
    let file = match open(path, true) {
        Ok(f) => f,
        Err(e) => {
            source.complete(Err(e.clone()));
            return Err(e);
        }
    };
    let limit = if length == 0 {
        u64::MAX
    } else {
        offset.saturating_add(length)
    };
    let run = |source: &mut StreamSource| -> Result<u64, Error> {
        let mut pos = offset;
        let mut written = 0u64;
        while let Some(chunk) = source.blocking_recv()? {
            if pos >= limit {
                return Err(sys(
                    "cannot write to stream".into(),
                    &std::io::Error::from_raw_os_error(libc::ENOSPC),
                ));
            }
            match chunk {
                Chunk::Data(data) => {
                    let n = (data.len() as u64).min(limit - pos) as usize;
                    file.write_all_at(&data[..n], pos)
                        .map_err(|e| sys(format!("Unable to write to '{path}'"), &e))?;
                    pos += n as u64;
                    written += n as u64;
                }
                Chunk::Hole(len) => {
                    if !sparse {
                        return Err(Error::new(
                            code::INTERNAL_ERROR,
                            domain::STREAMS,
                            "Unexpected stream hole",
                        ));
                    }
                    let len = len.min(limit - pos);
                    let size = content_len(&file)
                        .map_err(|e| sys(format!("Unable to access stream for '{path}'"), &e))?;
                    if pos < size {
                        punch(&file, pos, len.min(size - pos))
                            .map_err(|e| sys(format!("Unable to punch a hole in '{path}'"), &e))?;
                    }
                    pos += len;
                }
            }
        }
        // A trailing hole still counts towards a regular file's length (a device's is fixed).
        let meta = file
            .metadata()
            .map_err(|e| sys(format!("Unable to access stream for '{path}'"), &e))?;
        if meta.is_file() && pos > meta.len() {
            file.set_len(pos)
                .map_err(|e| sys(format!("Unable to resize '{path}'"), &e))?;
        }
        Ok(written)
    };
    match run(&mut source) {
        Ok(n) => {
            source.complete(Ok(()));
            Ok(n)
        }
        Err(e) => {
            source.complete(Err(e.clone()));
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvirt::stream::channel;
    use std::io::Write;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rvirt-transfer-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&d);
        d
    }

    fn collect(mut src: StreamSource) -> Vec<Chunk> {
        let mut v = Vec::new();
        while let Some(c) = src.blocking_recv().unwrap() {
            v.push(c);
        }
        src.complete(Ok(()));
        v
    }

    #[test]
    fn sparse_download_sends_holes_and_upload_restores_them() {
        let src = tmp("src");
        {
            let mut f = File::create(&src).unwrap();
            f.set_len(64 << 20).unwrap();
            f.seek(SeekFrom::Start(8 << 20)).unwrap();
            f.write_all(&[7u8; 100_000]).unwrap();
        }
        let (tx, rx) = channel(4);
        let p = src.to_str().unwrap().to_string();
        let reader = std::thread::spawn(move || collect(rx));
        let sent = download(&p, 0, 0, true, tx).unwrap();
        let chunks = reader.join().unwrap();
        // The data is sent (at file system block granularity), the rest as holes.
        assert!((100_000..1 << 20).contains(&sent), "sent {sent}");
        let total: u64 = chunks
            .iter()
            .map(|c| match c {
                Chunk::Data(d) => d.len() as u64,
                Chunk::Hole(n) => *n,
            })
            .sum();
        assert_eq!(total, 64 << 20);
        assert!(matches!(chunks[0], Chunk::Hole(_)));

        // Upload the chunks into a file full of other data: the holes punch it out.
        let dst = tmp("dst");
        std::fs::write(&dst, vec![1u8; 64 << 20]).unwrap();
        let (mut tx, rx) = channel(4);
        let d = dst.to_str().unwrap().to_string();
        let writer = std::thread::spawn(move || upload(&d, 0, 0, true, rx));
        for c in chunks {
            tx.blocking_send(c).unwrap();
        }
        tx.blocking_finish().unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(std::fs::read(&src).unwrap(), std::fs::read(&dst).unwrap());
        let _ = std::fs::remove_file(&src);
        let _ = std::fs::remove_file(&dst);
    }

    #[test]
    fn upload_beyond_length_fails_like_libvirt() {
        let dst = tmp("len");
        std::fs::write(&dst, vec![0u8; 16]).unwrap();
        let (mut tx, rx) = channel(4);
        let d = dst.to_str().unwrap().to_string();
        let writer = std::thread::spawn(move || upload(&d, 4, 4, false, rx));
        tx.blocking_send(Chunk::Data(vec![9; 4])).unwrap();
        let err = match tx.blocking_send(Chunk::Data(vec![9; 4])) {
            Err(e) => e,
            Ok(()) => tx.blocking_finish().unwrap_err(),
        };
        assert_eq!(
            err.message,
            "cannot write to stream: No space left on device"
        );
        assert!(writer.join().unwrap().is_err());
        let got = std::fs::read(&dst).unwrap();
        assert_eq!(&got[..], &[0, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
        let _ = std::fs::remove_file(&dst);
    }

    #[test]
    fn download_range_and_missing_file() {
        let f = tmp("range");
        std::fs::write(&f, b"0123456789").unwrap();
        let (tx, rx) = channel(4);
        let p = f.to_str().unwrap().to_string();
        let reader = std::thread::spawn(move || collect(rx));
        download(&p, 2, 5, false, tx).unwrap();
        assert_eq!(reader.join().unwrap(), vec![Chunk::Data(b"23456".to_vec())]);
        let _ = std::fs::remove_file(&f);

        let (tx, mut rx) = channel(4);
        let e = download("/nonexistent/x", 0, 0, false, tx).unwrap_err();
        assert_eq!(
            e.message,
            "Unable to open stream for '/nonexistent/x': No such file or directory"
        );
        assert_eq!(rx.blocking_recv().unwrap_err(), e);
    }
}
