#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, broker and controller in one JVM) for tests,
# run from the jars that scripts/tools.sh caches. Everything it keeps is under DIR.
#
#   scripts/kafka.sh start DIR   format DIR once, start the broker on 127.0.0.1, wait until it
#                                answers Kafka requests, print its bootstrap address (only
#                                that, on stdout); a second start in the same DIR reuses the
#                                same ports and data, so clients can test reconnecting
#   scripts/kafka.sh stop DIR    stop it (SIGTERM, then SIGKILL after a grace period)
#
#   ARGUS_TOOLS           the tools cache (default: ~/.cache/argus-tools)
#   ARGUS_KAFKA_OWNER     a pid: the broker is killed when that process is gone, so a test
#                         run that dies without cleaning up leaves no JVM behind
#   ARGUS_KAFKA_HEAP      the JVM's maximum heap (default: 512m)
#   ARGUS_KAFKA_CDS_DUMP  a file: the JVM writes the classes it loaded there when it stops
#                         (scripts/tools.sh builds the class-data archive with it)
#
# DIR holds server.properties, log4j2.properties, ports, data/, broker.log and, while the
# broker runs, pid (the JVM's pid, which is also its process group: it runs in its own
# session).
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
command="$1"
dir="$(mkdir -p "$2" && cd "$2" && pwd)"
tools="${ARGUS_TOOLS:-$HOME/.cache/argus-tools}"
lib="$tools/kafka/lib"

# Whether a pid names a live process (a zombie is not: it has exited, nobody reaped it yet).
alive() {
  local state
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

running_pid() {
  local pid
  pid="$(cat "$dir/pid" 2>/dev/null)" || return 1
  alive "$pid" && echo "$pid"
}

stop() {
  local pid waited=0
  if pid="$(running_pid)"; then
    kill -TERM "$pid" 2>/dev/null || true
    # A clean shutdown takes well under a second; the bound is for a broker in trouble.
    while alive "$pid" && [ $waited -lt 300 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if alive "$pid"; then
      echo "kafka: pid $pid ignored SIGTERM for 30 s, killing it" >&2
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      while alive "$pid"; do sleep 0.1; done
    fi
  fi
  rm -f "$dir/pid"
}

# Waits until the broker answers an ApiVersions request on its listener, and then until it
# hands out producer ids: exit 0 when it does, 1 when the JVM exits first, 2 after the time
# limit. A KRaft broker only starts
# serving its listener once it is registered, caught up with the metadata log and unfenced,
# so a reply means it takes topics, produce and consumer-group requests; an open TCP port
# alone does not. One Python process polls, so the wait costs little CPU next to a JVM
# that is busy starting.
wait_ready() {
  python3 - "$1" "$dir/pid" <<'PY'
import socket, struct, sys, time

port, pid_file = int(sys.argv[1]), sys.argv[2]
deadline = time.monotonic() + 120


def exited():
    try:
        with open(pid_file) as f:
            pid = f.read().strip()
    except FileNotFoundError:
        return False  # the launcher has not written it yet
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ValueError):
        return True


def request(api_key, body, reply_size):
    """The first reply_size bytes after the reply's size and correlation id, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(1)
            # header v1: api key, version 0, correlation id 7, null client id
            message = struct.pack(">hhih", api_key, 0, 7, -1) + body
            s.sendall(struct.pack(">i", len(message)) + message)
            reply = b""
            while len(reply) < 8 + reply_size:
                chunk = s.recv(8 + reply_size - len(reply))
                if not chunk:
                    return None
                reply += chunk
            _, correlation = struct.unpack(">ii", reply[:8])
            return reply[8:] if correlation == 7 else None
    except OSError:
        return None


def answers():
    reply = request(18, b"", 2)  # ApiVersions: error code
    return reply is not None and struct.unpack(">h", reply)[0] == 0


def gives_producer_ids():
    # InitProducerId without a transactional id, as an idempotent producer's first request.
    # The broker fetches its first block of producer ids from the controller only then,
    # answering "coordinator load in progress" meanwhile, which librdkafka retries after a
    # second or more. Asking here once makes the tests' first producer start at once.
    reply = request(22, struct.pack(">hi", -1, 60000), 6)  # throttle time, error code
    if reply is None:
        return True  # an unknown request version: nothing to wait for
    return struct.unpack(">ih", reply)[1] not in (14, 15)  # load in progress, unavailable


ready = answers
while time.monotonic() < deadline:
    if ready():
        if ready is gives_producer_ids:
            sys.exit(0)
        ready = gives_producer_ids
        continue
    if exited():
        sys.exit(1)
    time.sleep(0.05)
sys.exit(2)
PY
}

# Two distinct free ports on 127.0.0.1 (both sockets are open at once, so they differ).
free_ports() {
  python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0))
b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])'
}

start() {
  if [ ! -e "$lib/.complete" ]; then
    echo "kafka: no broker jars in $lib; run scripts/tools.sh first" >&2
    exit 1
  fi
  if [ ! -s "$dir/ports" ]; then
    free_ports >"$dir/ports.tmp"
    mv "$dir/ports.tmp" "$dir/ports"
  fi
  local port cport
  read -r port cport <"$dir/ports"
  if running_pid >/dev/null; then
    echo "127.0.0.1:$port"
    return
  fi

  # Written on every start, so a changed script applies to an existing DIR.
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data

# Topics exist only when a test creates them.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1

# One node: every internal topic has one replica, and one partition (created faster).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# A group's first member gets its assignment at once instead of after 3 s.
group.initial.rebalance.delay.ms=0

# The log cleaner's dedupe buffer is on the heap (128 MiB by default); compaction of the
# offsets topic is irrelevant for tests.
log.cleaner.dedupe.buffer.size=4194304
log.cleaner.threads=1

# Fewer threads for a 2-core machine and a handful of clients.
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2

# Register, get unfenced and notice a restarted broker sooner.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
EOF

  cat >"$dir/log4j2.properties" <<EOF
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/broker.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
# Start-up and shutdown milestones, to tell where a slow start went.
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
EOF

  # Start-up is class loading: the class-data archive that scripts/tools.sh builds once
  # halves it, and the JIT's first tier alone is plenty for a test's traffic. A stale or
  # missing archive only makes start-up slower (-Xshare:auto).
  local java_opts=(
    "-Xmx${ARGUS_KAFKA_HEAP:-512m}" -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$dir/log4j2.properties"
  )
  local broker_opts=()
  if [ -n "${ARGUS_KAFKA_CDS_DUMP:-}" ]; then
    broker_opts+=("-XX:ArchiveClassesAtExit=$ARGUS_KAFKA_CDS_DUMP")
  elif [ -s "$tools/kafka/kafka.jsa" ]; then
    java_opts+=(-Xshare:auto "-XX:SharedArchiveFile=$tools/kafka/kafka.jsa")
  fi
  java_opts+=(-cp "$lib/*")

  if [ ! -e "$dir/data/meta.properties" ]; then
    local cluster_id
    # Kafka's own form of a random id; one starting with "-" would read as an option, so
    # Kafka never makes one, nor does this.
    cluster_id="$(python3 -c '
import base64, uuid
while True:
    id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not id.startswith("-"):
        print(id)
        break')"
    java "${java_opts[@]}" kafka.tools.StorageTool format --standalone \
      -t "$cluster_id" -c "$dir/server.properties" >>"$dir/broker.log" 2>&1 || {
      echo "kafka: formatting $dir/data failed; the end of $dir/broker.log:" >&2
      tail -n 30 "$dir/broker.log" >&2
      exit 1
    }
  fi

  rm -f "$dir/pid"
  # Its own session (setsid), so a terminal's signals don't reach it and stop can kill the
  # whole group; all its output goes to broker.log, so no caller's pipe is held open. The
  # shell writes its pid and then becomes the JVM (exec), after starting the owner watch.
  ARGUS_KAFKA_DIR="$dir" ARGUS_KAFKA_OWNER="${ARGUS_KAFKA_OWNER:-}" \
    setsid bash -c '
      echo $$ >"$ARGUS_KAFKA_DIR/pid"
      if [ -n "$ARGUS_KAFKA_OWNER" ]; then
        broker=$$
        (
          while kill -0 "$ARGUS_KAFKA_OWNER" 2>/dev/null && kill -0 "$broker" 2>/dev/null; do
            sleep 1
          done
          kill -KILL "$broker" 2>/dev/null
        ) &
      fi
      exec java "$@" kafka.Kafka "$ARGUS_KAFKA_DIR/server.properties"
    ' kafka "${java_opts[@]}" ${broker_opts[@]+"${broker_opts[@]}"} </dev/null >>"$dir/broker.log" 2>&1 &

  local ready=0
  wait_ready "$port" || ready=$?
  case $ready in
    0) ;;
    1)
      echo "kafka: the broker exited during start-up; the end of $dir/broker.log:" >&2
      tail -n 30 "$dir/broker.log" >&2
      exit 1
      ;;
    *)
      echo "kafka: the broker did not answer on 127.0.0.1:$port within 120 s; see $dir/broker.log" >&2
      stop
      exit 1
      ;;
  esac
  echo "127.0.0.1:$port"
}

case "$command" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
