//! End-to-end tests of `argus gen`, read back with `argus inspect --json` and the parser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use argus_parser::{ChunkWalk, FileHeader, Step};
use serde_json::Value;

use crate::util::{argus, generate, read_tree, run_ok};

/// Every `.rec` file below a replay root, sorted.
fn rec_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        read_tree(root).into_keys().filter(|f| f.ends_with(".rec")).map(|f| root.join(f)).collect();
    files.sort();
    files
}

/// `argus inspect --json` of every file below `root`, one object per file.
fn inspect(root: &Path) -> Vec<Value> {
    let output = run_ok(argus().arg("inspect").arg("--json").arg("--top").arg("10").args(rec_files(root)));
    String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The compression byte of every chunk of a file.
fn chunk_compressions(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let header = FileHeader::parse(&bytes).unwrap();
    ChunkWalk::new(&bytes, header.header_len)
        .filter_map(|step| match step {
            Step::Chunk { header, .. } => Some(header.compression),
            _ => None,
        })
        .collect()
}

#[test]
fn same_arguments_same_bytes_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let args = "--batches 3 --files-per-batch 2 --size 300KiB --seed 42 --corrupt 0.5 --compression mixed";
    generate(&dir.path().join("a"), &format!("{args} --jobs 1"));
    generate(&dir.path().join("b"), &format!("{args} --jobs 3"));
    let a = read_tree(&dir.path().join("a"));
    assert_eq!(a.len(), 6);
    assert!(a == read_tree(&dir.path().join("b")), "two runs differ");
    generate(&dir.path().join("c"), &args.replace("--seed 42", "--seed 43"));
    let c = read_tree(&dir.path().join("c"));
    assert!(a.keys().ne(c.keys()), "another seed, other batch ids");
}

#[test]
fn replay_layout_of_one_vehicle_per_batch() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "--batches 3 --files-per-batch 4 --size 1MiB --seed 5");
    let mut vins = BTreeSet::new();
    for batch in std::fs::read_dir(dir.path()).unwrap() {
        let batch = batch.unwrap().path();
        let name = batch.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(uuid::Uuid::parse_str(&name).unwrap().get_version_num(), 4, "{name}");
        let files: BTreeSet<String> = std::fs::read_dir(&batch)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, ["seg-00.rec", "seg-01.rec", "seg-02.rec", "seg-03.rec"].map(String::from).into());
        let found = inspect(&batch);
        let batch_vins: BTreeSet<&str> = found.iter().map(|f| f["vin"].as_str().unwrap()).collect();
        assert_eq!(batch_vins.len(), 1, "one vehicle per batch: {batch_vins:?}");
        let vin = batch_vins.into_iter().next().unwrap();
        assert!(
            vin.len() == 17 && vin.bytes().all(|b| b.is_ascii_alphanumeric() && !b"IOQ".contains(&b)),
            "{vin}"
        );
        vins.insert(vin.to_owned());
        let mut last_ts = 0;
        for file in &found {
            assert!(!file["firmware"].as_str().unwrap().is_empty());
            // Sessions follow each other and records move forward in time.
            let (first, last) = (file["first_ts_ns"].as_u64().unwrap(), file["last_ts_ns"].as_u64().unwrap());
            assert!(last_ts < first && first < last, "{file}");
            last_ts = last;
            // Sizes vary by ±20% around the target, plus the last chunk's overshoot.
            let bytes = file["bytes"].as_u64().unwrap();
            assert!((780_000..1_300_000).contains(&bytes), "{bytes}");
        }
    }
    assert_eq!(vins.len(), 3);
}

/// `--vehicles N` draws the batches from N vehicles and changes nothing else: the same
/// batch ids and file sizes as without it.
#[test]
fn vehicles_n_makes_batches_revisit_n_vins() {
    let (own, shared) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(own.path(), "--batches 6 --files-per-batch 1 --size 8KiB --seed 9");
    generate(shared.path(), "--batches 6 --files-per-batch 1 --size 8KiB --seed 9 --vehicles 2");
    let vins =
        |root: &Path| inspect(root).iter().map(|f| f["vin"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(vins(own.path()).iter().collect::<BTreeSet<_>>().len(), 6, "a vehicle per batch by default");
    assert_eq!(vins(shared.path()).iter().collect::<BTreeSet<_>>().len(), 2, "two vehicles");
    let names = |root: &Path| read_tree(root).into_keys().collect::<Vec<_>>();
    assert_eq!(names(own.path()), names(shared.path()), "the same batches and files");
}

#[test]
fn corrupt_zero_is_clean_and_corrupt_one_damages_every_file() {
    let dir = tempfile::tempdir().unwrap();
    generate(&dir.path().join("clean"), "--batches 4 --files-per-batch 3 --size 200KiB --seed 9 --corrupt 0");
    for file in inspect(&dir.path().join("clean")) {
        assert_eq!(file["status"], "ok", "{file}");
        assert_eq!((file["chunks_corrupt"].as_u64(), file["bytes_skipped"].as_u64()), (Some(0), Some(0)));
    }
    generate(&dir.path().join("bad"), "--batches 8 --files-per-batch 3 --size 200KiB --seed 9 --corrupt 1");
    let mut kinds = BTreeSet::new();
    for file in inspect(&dir.path().join("bad")) {
        let status = file["status"].as_str().unwrap();
        assert!(status == "partial" || status == "rejected", "{file}");
        kinds.insert(match () {
            _ if status == "rejected" => "rejected",
            _ if file["truncated"] == true => "truncated",
            _ if file["chunks_corrupt"].as_u64() > Some(0) => "corrupt chunk",
            _ => "skipped bytes",
        });
    }
    assert!(kinds.len() >= 3, "24 damaged files show several kinds of damage: {kinds:?}");
}

#[test]
fn zstd_chunks_are_compressed_and_mixed_mixes() {
    let dir = tempfile::tempdir().unwrap();
    let args = "--batches 1 --files-per-batch 1 --size 2MiB --seed 4";
    let mut records = BTreeMap::new();
    for mode in ["none", "zstd", "mixed"] {
        let root = dir.path().join(mode);
        generate(&root, &format!("{args} --compression {mode}"));
        let file = &rec_files(&root)[0];
        let kinds: BTreeSet<u8> = chunk_compressions(file).into_iter().collect();
        let expected: BTreeSet<u8> = match mode {
            "none" => [0].into(),
            "zstd" => [1].into(),
            _ => [0, 1].into(),
        };
        assert_eq!(kinds, expected, "{mode}");
        let found = inspect(&root);
        assert_eq!(found[0]["status"], "ok");
        records.insert(mode, found[0]["records"].as_u64().unwrap());
    }
    // About the same bytes on disk: compressed chunks hold several times the records.
    assert!(records["zstd"] > 2 * records["none"], "{records:?}");
    assert!(records["none"] < records["mixed"] && records["mixed"] < records["zstd"], "{records:?}");
}

#[test]
fn each_vehicle_has_its_own_dominant_codes() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "--batches 6 --files-per-batch 1 --size 1MiB --seed 12");
    let (mut leaders, mut codes) = (BTreeSet::new(), BTreeSet::new());
    for file in inspect(dir.path()) {
        let top = file["top_errors"].as_array().unwrap();
        let count = |i: usize| top[i]["count"].as_u64().unwrap();
        // Zipf-like: the leader is more than twice the third code and four times the tenth.
        assert!(count(0) > 2 * count(2) && count(0) > 4 * count(9), "{top:?}");
        let code = top[0]["code"].as_str().unwrap();
        assert!(!code.starts_with("APP-"), "a trouble code leads: {code}");
        leaders.insert(code.to_owned());
        codes.extend(top.iter().map(|e| e["code"].as_str().unwrap().to_owned()));
    }
    assert!(leaders.len() >= 4, "six vehicles, few shared leaders: {leaders:?}");
    // Generic codes of the knowledge base and manufacturer codes (second character 1, or
    // B2/C2/U2) both occur.
    let manufacturer = |c: &str| c.as_bytes()[1] == b'1' || (c.as_bytes()[1] == b'2' && !c.starts_with('P'));
    let dtcs: Vec<&String> = codes.iter().filter(|c| !c.starts_with("APP-")).collect();
    assert!(dtcs.iter().any(|c| manufacturer(c)) && dtcs.iter().any(|c| !manufacturer(c)), "{dtcs:?}");
}

#[test]
fn the_committed_sample_is_what_the_readme_line_makes() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("datasets/README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("argus gen datasets/sample "))
        .expect("the README names the line");
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<&str> = line.split_whitespace().skip(3).collect();
    run_ok(argus().arg("gen").arg(dir.path()).args(&args));
    let made = read_tree(dir.path());
    let committed = read_tree(&repo.join("datasets/sample"));
    assert_eq!(made.keys().collect::<Vec<_>>(), committed.keys().collect::<Vec<_>>());
    for (name, bytes) in &made {
        assert!(
            bytes == &committed[name],
            "{name} differs from datasets/sample: regenerate it with the README line"
        );
    }
}

#[test]
fn entries_it_did_not_write_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = generate(dir.path(), "--batches 2 --files-per-batch 1 --size 64KiB");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("did not write"));
    // A smaller fleet into the same directory leaves the second batch behind.
    let out = generate(dir.path(), "--batches 1 --files-per-batch 1 --size 64KiB");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did not write") && stderr.contains("count=1"), "{stderr}");
}

#[test]
fn bad_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        ("--size 12XB", "unknown size unit"),
        ("--size MiB", "is not a size"),
        ("--corrupt 1.5", "is not a probability"),
        ("--compression lz4", "lz4"),
    ] {
        let output = argus().arg("gen").arg(dir.path()).args(args.split_whitespace()).output().unwrap();
        assert!(!output.status.success(), "{args}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{args}: {stderr}");
    }
    // OUT is a file: creating the batch directories fails with the path named.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let output = argus().arg("gen").arg(&file).args(["--size", "10KiB"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("plain-file"));
}
