#!/usr/bin/env bash
# Reproduces the fuzz runs recorded in parser/README.md: seeds the corpora from the
# conformance vectors, builds both targets and runs each on one job.
#
#   parser/fuzz/run.sh                  # whole_file 600 s, then chunk 180 s
#   WHOLE_SECS=60 CHUNK_SECS=30 parser/fuzz/run.sh
#
# The machine has one stable toolchain; cargo fuzz passes nightly-only flags
# (-Zsanitizer=address and friends), which RUSTC_BOOTSTRAP=1 allows on stable.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
WHOLE_SECS=${WHOLE_SECS:-600}
CHUNK_SECS=${CHUNK_SECS:-180}
VECTORS=${VECTORS:-../../../shared/spec/vectors/data}

mkdir -p corpus/whole_file corpus/chunk
# Whole files as they are (batch id in the name: every batch has a seg-00.rec).
for f in "$VECTORS"/*/*.rec; do
    cp -f "$f" "corpus/whole_file/$(basename "$(dirname "$f")")-$(basename "$f")"
done
# Single chunks carved out of the same files, each behind a mode byte 0 (bytes as given).
python3 - "$VECTORS" corpus/chunk <<'PY'
import glob, os, struct, sys
src, out = sys.argv[1], sys.argv[2]
n = 0
for path in sorted(glob.glob(os.path.join(src, "*", "*.rec"))):
    data = open(path, "rb").read()
    at = data.find(b"ARGCHUNK")
    while at >= 0 and n < 400:
        if at + 48 <= len(data):
            stored = struct.unpack_from("<I", data, at + 8)[0]
            piece = data[at:min(len(data), at + 48 + stored)]
            if len(piece) <= 65536:
                open(os.path.join(out, "seed-%04d" % n), "wb").write(b"\0" + piece)
                n += 1
        at = data.find(b"ARGCHUNK", at + 1)
print("chunk seeds:", n)
PY

cargo fuzz build
cargo fuzz run whole_file corpus/whole_file -- -max_total_time="$WHOLE_SECS" -print_final_stats=1
cargo fuzz run chunk corpus/chunk -- -max_total_time="$CHUNK_SECS" -print_final_stats=1
