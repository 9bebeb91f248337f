//! The replay writer: `OUT/batches/<batch_id>.json` and `OUT/fleet.json`, each written to
//! a temporary file and renamed, so a reader never sees half a report. Files are not
//! fsynced: replay output can be made again from its input, and the durable record of
//! the live service is the database store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ack::BatchAck;
use crate::report::{FinishedBatch, FleetReport};
use crate::sink::{ReportWriter, SinkError};

/// Writes reports as JSON files below a directory.
#[derive(Debug, Clone)]
pub struct JsonDirWriter {
    out: PathBuf,
}

impl JsonDirWriter {
    /// Creates `OUT/batches/`; fails clearly when OUT cannot be written.
    pub fn create(out: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(out.join("batches"))?;
        Ok(Self { out: out.to_owned() })
    }
}

/// A batch id usable as a file name: no separators, not `.` or `..`, not empty.
fn file_name_of(batch_id: &str) -> Result<String, SinkError> {
    let bad =
        batch_id.is_empty() || batch_id == "." || batch_id == ".." || batch_id.contains(['/', '\\', '\0']);
    if bad {
        return Err(format!("batch id {batch_id:?} cannot name a file").into());
    }
    Ok(format!("{batch_id}.json"))
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), SinkError> {
    let tmp = path.with_extension("json.tmp");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    serde_json::to_writer_pretty(&mut file, value)?;
    file.write_all(b"\n")?;
    file.into_inner().map_err(|e| e.into_error())?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

impl ReportWriter for JsonDirWriter {
    /// A local file write is quick: done on the worker, acknowledged at once.
    fn write_batch(&mut self, batch: Arc<FinishedBatch>, ack: BatchAck) {
        let written = file_name_of(&batch.report.batch_id)
            .and_then(|name| write_json(&self.out.join("batches").join(name), &batch.report));
        match written {
            Ok(()) => ack.durable(),
            Err(error) => ack.fail(error),
        }
    }

    fn write_fleet(&mut self, fleet: &FleetReport) -> Result<(), SinkError> {
        write_json(&self.out.join("fleet.json"), fleet)
    }

    fn write_fleet_window(&mut self, fleet: &FleetReport) -> Result<(), SinkError> {
        write_json(&self.out.join("fleet-window.json"), fleet)
    }
}
