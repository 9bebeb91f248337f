//! End-to-end tests of `argus replay`.

use std::path::Path;

use serde_json::Value;

use crate::util::{argus, free_port, read_tree, run_ok, vector_root, vectors};

fn replay(root: &Path, out: &Path, extra: &[&str]) {
    run_ok(argus().arg("replay").arg(root).arg("--out").arg(out).args(extra));
}

/// A report with `error` texts replaced by whether there is one (texts may differ).
fn normalized(mut report: Value) -> Value {
    if let Some(files) = report.get_mut("files").and_then(Value::as_array_mut) {
        for file in files {
            file["error"] = Value::Bool(!file["error"].is_null());
        }
    }
    report
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}

#[test]
fn replaying_the_vectors_gives_the_expected_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let root = vector_root(tmp.path());
    let out = tmp.path().join("out");
    replay(&root, &out, &["-k", "10"]);

    let expected_dir = vectors().join("expected/batches");
    let mut expected_names: Vec<_> =
        std::fs::read_dir(&expected_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    let mut written: Vec<_> =
        std::fs::read_dir(out.join("batches")).unwrap().map(|e| e.unwrap().file_name()).collect();
    expected_names.sort();
    written.sort();
    assert_eq!(written, expected_names, "one report per batch directory");
    for name in expected_names {
        let expected = json(&expected_dir.join(&name));
        let got = json(&out.join("batches").join(&name));
        assert_eq!(normalized(got), normalized(expected), "{name:?}");
    }
    assert_eq!(json(&out.join("fleet.json")), json(&vectors().join("expected/fleet.json")));
}

/// A replay root with a file large enough to be split across workers, the vectors'
/// corrupt files, and an unreadable file.
fn mixed_root(dir: &Path) -> std::path::PathBuf {
    let root = vector_root(dir);
    let big = root.join("0a-big-batch");
    std::fs::create_dir_all(&big).unwrap();
    // About 20 MB in 64 KiB chunks: several ranges, so several workers parse one file.
    let bytes = argus_parser::testing::file_with(500_000, 64 << 10, argus_parser::Compression::None);
    std::fs::write(big.join("drive.rec"), &bytes).unwrap();
    let zstd = argus_parser::testing::file_with(200_000, 256 << 10, argus_parser::Compression::Zstd);
    std::fs::write(big.join("drive-zstd.rec"), zstd).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("/nonexistent/argus", big.join("gone.rec")).unwrap();
    root
}

#[test]
fn output_is_byte_identical_with_one_or_two_workers_two_processes_and_one_batch_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let root = mixed_root(tmp.path());

    let one = tmp.path().join("w1");
    replay(&root, &one, &["-w", "1"]);
    let two = tmp.path().join("w2");
    replay(&root, &two, &["-w", "2"]);
    // A byte bound below every batch: one batch in flight at a time.
    let one_at_a_time = tmp.path().join("w2-one-batch");
    replay(&root, &one_at_a_time, &["-w", "2", "--max-bytes-in-flight", "1B"]);

    // Two processes of two workers each, a timely cluster on loopback.
    let cluster = tmp.path().join("cluster");
    let hostfile = tmp.path().join("hosts");
    std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port())).unwrap();
    let processes: Vec<_> = (0..2)
        .map(|p| {
            argus()
                .arg("replay")
                .arg(&root)
                .arg("--out")
                .arg(&cluster)
                .args(["-w", "2", "-n", "2", "-p", &p.to_string(), "--hostfile"])
                .arg(&hostfile)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut process in processes {
        assert!(process.wait().unwrap().success(), "a cluster process failed");
    }

    let reference = read_tree(&one);
    assert!(reference.len() > 15, "reports written: {}", reference.len());
    assert_eq!(read_tree(&two), reference, "-w 2 differs from -w 1");
    assert_eq!(read_tree(&one_at_a_time), reference, "a batch at a time differs");
    assert_eq!(read_tree(&cluster), reference, "2 processes differ from 1");

    // The unreadable file is a rejected entry with the OS error, and the run went on.
    let big = json(&one.join("batches/0a-big-batch.json"));
    let gone = big["files"].as_array().unwrap().iter().find(|f| f["file_id"] == "gone.rec").unwrap();
    assert_eq!(gone["status"], "rejected");
    assert!(gone["error"].as_str().unwrap().contains("No such file"), "{gone}");
    assert_eq!(big["status"], "completed");
    assert!(big["records"].as_u64().unwrap() >= 700_000);
}

#[test]
fn a_missing_root_or_unwritable_out_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let output = argus()
        .arg("replay")
        .arg(tmp.path().join("nope"))
        .arg("--out")
        .arg(tmp.path().join("o"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nope") && stderr.contains("not a directory"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let output = argus().arg("replay").arg(vectors().join("data")).arg("--out").arg(&file).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot write reports"), "{stderr}");
}

#[test]
fn a_replay_from_s3_equals_the_local_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let root = mixed_root(tmp.path());
    std::fs::remove_file(root.join("0a-big-batch/gone.rec")).unwrap(); // a link has no object form
    let local = tmp.path().join("local");
    replay(&root, &local, &["-w", "2"]);

    let s3 = crate::s3::S3Server::start();
    s3.create_bucket("fleet");
    assert!(s3.upload_tree("fleet", &root, "archive/2026") > 20);
    let remote = tmp.path().join("remote");
    // A spool directory the user named, holding a file of theirs: the run removes the
    // files it spooled and nothing else.
    let spool = tmp.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(spool.join("keep.txt"), b"mine").unwrap();
    run_ok(
        argus()
            .args(["replay", "s3://fleet/archive/2026", "-w", "2", "--out"])
            .arg(&remote)
            .arg("--spool")
            .arg(&spool)
            .envs(s3.env()),
    );
    // Empty batch directories have no objects, so S3 knows nothing of them.
    let mut expected = read_tree(&local);
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::read_dir(&path).unwrap().next().is_none() {
            let name = format!("batches/{}.json", path.file_name().unwrap().to_string_lossy());
            expected.remove(&name).unwrap();
        }
    }
    let fleet = |tree: &std::collections::BTreeMap<String, Vec<u8>>| tree.get("fleet.json").cloned();
    assert_eq!(fleet(&read_tree(&remote)), fleet(&expected), "empty batches do not change the fleet");
    assert_eq!(read_tree(&remote), expected);
    let left: Vec<String> = std::fs::read_dir(&spool)
        .expect("the user's spool directory is kept")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["keep.txt"], "spooled files are removed, the user's file is kept");
}
