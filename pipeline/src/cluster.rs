//! Scale-out is timely's: `-w` threads per process, `-n` processes, this one being `-p`,
//! their addresses in a hostfile (one `host:port` per line, in process order).

use std::path::PathBuf;

use timely::{CommunicationConfig, Config, WorkerConfig};

/// How many workers, in how many processes.
#[derive(Debug, Clone, Default)]
pub struct ClusterConfig {
    /// Worker threads in this process. Default 1.
    pub workers: usize,
    /// Processes in the cluster. Default 1.
    pub processes: usize,
    /// This process's index, `0..processes`.
    pub process: usize,
    /// One `host:port` per line, in process order. Default: `127.0.0.1:2101 + i`.
    pub hostfile: Option<PathBuf>,
}

/// Why a cluster configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("process index {process} is not below the process count {processes}")]
    BadProcess { process: usize, processes: usize },
    #[error("reading hostfile {path}: {source}")]
    Hostfile { path: PathBuf, source: std::io::Error },
    #[error("hostfile {path} names {found} hosts, the cluster has {processes} processes")]
    HostCount { path: PathBuf, found: usize, processes: usize },
}

impl ClusterConfig {
    pub fn single(workers: usize) -> Self {
        Self { workers, processes: 1, process: 0, hostfile: None }
    }

    /// The timely configuration for this process.
    pub fn timely_config(&self) -> Result<Config, ClusterError> {
        let workers = self.workers.max(1);
        let processes = self.processes.max(1);
        if self.process >= processes {
            return Err(ClusterError::BadProcess { process: self.process, processes });
        }
        let communication = if processes > 1 {
            CommunicationConfig::Cluster {
                threads: workers,
                process: self.process,
                addresses: self.addresses(processes)?,
                report: false,
                zerocopy: false,
            }
        } else if workers > 1 {
            CommunicationConfig::Process(workers)
        } else {
            CommunicationConfig::Thread
        };
        Ok(Config { communication, worker: WorkerConfig::default() })
    }

    fn addresses(&self, processes: usize) -> Result<Vec<String>, ClusterError> {
        let Some(path) = &self.hostfile else {
            // Loopback only: a cluster on one host needs no other interface.
            return Ok((0..processes).map(|i| format!("127.0.0.1:{}", 2101 + i)).collect());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|source| ClusterError::Hostfile { path: path.clone(), source })?;
        let hosts: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        if hosts.len() != processes {
            return Err(ClusterError::HostCount { path: path.clone(), found: hosts.len(), processes });
        }
        Ok(hosts)
    }
}
