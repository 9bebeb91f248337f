//! A file written by a background thread: the generator fills buffers and hands them over,
//! so that generating records (user time) and copying them into the kernel (system time)
//! use two cores. At most a few buffers are in flight, so memory stays bounded.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;

/// Buffers are handed over once they hold this much.
const BUFFER: usize = 1 << 20;
/// Full buffers waiting for the writer thread.
const IN_FLIGHT: usize = 2;

#[derive(Debug)]
pub struct ThreadedFile {
    buf: Vec<u8>,
    full: Option<SyncSender<Vec<u8>>>,
    empty: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<io::Result<File>>>,
}

impl ThreadedFile {
    pub fn new(mut file: File) -> io::Result<Self> {
        let (full, filled) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (recycle, empty) = channel::<Vec<u8>>();
        let thread = std::thread::Builder::new().name("gen-writer".into()).spawn(move || {
            for mut buf in filled {
                file.write_all(&buf)?;
                buf.clear();
                // The generator may be gone already; then the buffer is simply dropped.
                let _ = recycle.send(buf);
            }
            Ok(file)
        })?;
        Ok(Self { buf: Vec::with_capacity(BUFFER), full: Some(full), empty, thread: Some(thread) })
    }

    fn hand_over(&mut self) -> io::Result<()> {
        let next = self.empty.try_recv().unwrap_or_else(|_| Vec::with_capacity(BUFFER));
        let buf = std::mem::replace(&mut self.buf, next);
        let sent = self.full.as_ref().map(|full| full.send(buf));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread stopped: it failed, and joining it tells why.
            _ => self.join().map(drop),
        }
    }

    fn join(&mut self) -> io::Result<File> {
        self.full = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the writer thread panicked")),
            None => Err(io::Error::other("the writer thread has already stopped")),
        }
    }

    /// Writes what is left and returns the file once all of it is written.
    pub fn finish(mut self) -> io::Result<File> {
        if !self.buf.is_empty() {
            self.hand_over()?;
        }
        self.join()
    }
}

impl Write for ThreadedFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BUFFER {
            self.hand_over()?;
        }
        Ok(data.len())
    }

    /// Buffers are written in order by the thread; [`ThreadedFile::finish`] waits for them.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ThreadedFile {
    fn drop(&mut self) {
        // Ends the thread on an early return; its error, if any, was already reported.
        let _ = self.thread.is_some().then(|| self.join());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_arrive_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut out = ThreadedFile::new(File::create(&path).unwrap()).unwrap();
        let mut expected = Vec::new();
        for i in 0..5000u32 {
            let piece = vec![(i % 251) as u8; (i as usize * 7) % 3000];
            out.write_all(&piece).unwrap();
            expected.extend_from_slice(&piece);
        }
        out.finish().unwrap();
        assert!(std::fs::read(&path).unwrap() == expected);
    }

    #[test]
    fn a_failing_disk_is_an_error_not_a_hang() {
        let Ok(full) = File::options().write(true).open("/dev/full") else { return };
        let mut out = ThreadedFile::new(full).unwrap();
        let chunk = vec![0u8; 1 << 16];
        let mut result = Ok(());
        for _ in 0..200 {
            result = out.write_all(&chunk);
            if result.is_err() {
                break;
            }
        }
        let finished = out.finish().map(drop);
        assert!(result.is_err() || finished.is_err());
    }
}
