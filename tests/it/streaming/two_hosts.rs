//! Two hosts: two `argus pipeline` processes in two network namespaces (veth pairs on a
//! bridge of their own) form one timely cluster over the test network and consume 8
//! fleet.partitions; they give the replay's reports. The broker and Postgres stay on the root
//! namespace's loopback: `socat` relays their ports through the bridge to the same ports
//! on each namespace's loopback, so the broker's advertised 127.0.0.1 address holds
//! everywhere. Skipped, saying why, where the sandbox forbids network namespaces.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::harness::*;
use super::{Published, pipeline_args};

/// The test network: a bridge in the root namespace and two namespaces on it.
struct TestNetwork {
    bridge: String,
    namespaces: [String; 2],
    /// 10.231.N.0/24: the root side is .1, the hosts .2 and .3.
    subnet: u32,
    relays: Vec<Child>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
}

impl TestNetwork {
    fn create() -> Result<Self, String> {
        let id = std::process::id() % 10_000;
        let subnet = 1 + std::process::id() % 250;
        let network = Self {
            bridge: format!("argbr{id}"),
            namespaces: [format!("argus-h0-{id}"), format!("argus-h1-{id}")],
            subnet,
            relays: Vec::new(),
        };
        ip(&["link", "add", &network.bridge, "type", "bridge"])?;
        ip(&["addr", "add", &format!("{}/24", network.root_address()), "dev", &network.bridge])?;
        ip(&["link", "set", &network.bridge, "up"])?;
        for host in 0..2 {
            let ns = network.namespaces[host].clone();
            let (outer, inner) = (format!("av{id}h{host}"), format!("av{id}n{host}"));
            ip(&["netns", "add", &ns])?;
            ip(&["link", "add", &outer, "type", "veth", "peer", "name", &inner])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &outer, "master", &network.bridge, "up"])?;
            ip(&["-n", &ns, "addr", "add", &format!("{}/24", network.host_address(host)), "dev", &inner])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(network)
    }

    fn root_address(&self) -> String {
        format!("10.231.{}.1", self.subnet)
    }

    fn host_address(&self, host: usize) -> String {
        format!("10.231.{}.{}", self.subnet, 2 + host)
    }

    /// Makes 127.0.0.1:`port` of the root namespace reachable at 127.0.0.1:`port` in
    /// every host namespace.
    fn relay(&mut self, port: u16) {
        let root = self.root_address();
        let to_loopback = format!("TCP:127.0.0.1:{port}");
        let listen_root = format!("TCP-LISTEN:{port},bind={root},reuseaddr,fork");
        self.relays.push(socat(&[], &listen_root, &to_loopback));
        for ns in self.namespaces.clone() {
            let listen = format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork");
            self.relays.push(socat(&["netns", "exec", &ns], &listen, &format!("TCP:{root}:{port}")));
        }
    }
}

fn socat(prefix: &[&str], from: &str, to: &str) -> Child {
    let mut command = if prefix.is_empty() { Command::new("socat") } else { Command::new("ip") };
    if !prefix.is_empty() {
        command.args(prefix).arg("socat");
    }
    command.args([from, to]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("socat starts")
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        for relay in &mut self.relays {
            let _ = relay.kill();
            let _ = relay.wait();
        }
        for ns in &self.namespaces {
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_pipeline_hosts_form_one_cluster_and_give_the_replays_reports() {
    let mut network = match TestNetwork::create() {
        Ok(network) => network,
        Err(why) => {
            eprintln!("skipped: network namespaces are not available here ({why})");
            return;
        }
    };
    if Command::new("socat").arg("-V").output().is_err() {
        eprintln!("skipped: socat is not installed (scripts/tools.sh installs it)");
        return;
    }
    let fleet = Published::new(80, 8);
    let (db, store) = fresh_db().await;
    let kafka_port: u16 = fleet.broker.bootstrap().rsplit(':').next().unwrap().parse().unwrap();
    network.relay(kafka_port);
    network.relay(5432);
    tokio::time::sleep(Duration::from_millis(300)).await; // the relays listen

    let hostfile = fleet.tmp.path().join("hostfile");
    let hosts = format!("{}:2101\n{}:2101\n", network.host_address(0), network.host_address(1));
    std::fs::write(&hostfile, hosts).unwrap();
    let logs: Vec<PathBuf> = (0..2).map(|h| fleet.tmp.path().join(format!("host-{h}.log"))).collect();
    let _hosts: Vec<PipelineProcess> = (0..2)
        .map(|host| {
            let cluster =
                ["-w", "2", "-n", "2", "-p", &host.to_string(), "--hostfile", hostfile.to_str().unwrap()];
            let args = PipelineArgs {
                extra: cluster.map(String::from).to_vec(),
                ..pipeline_args(&fleet.broker, &db.url(), &fleet.root, &logs[host])
            };
            PipelineProcess::start_in_namespace(&args, &network.namespaces[host])
        })
        .collect();
    let log_refs: Vec<&std::path::Path> = logs.iter().map(PathBuf::as_path).collect();
    wait_final(&store, fleet.ids.len(), Duration::from_secs(180), &log_refs).await;
    fleet.assert_stored(&store, "two hosts").await;
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(text.contains("kafka feed assigned"), "each host read its partitions: {text}");
    }
    store.close().await;
    db.drop_it().await;
}
