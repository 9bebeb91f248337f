#!/usr/bin/env bash
# Installs the test services' tools into a cache outside the repository (kept between CI
# runs on the same machine), only when they are missing. Prints nothing on a warm cache
# except the cache directory itself, on stdout: `export ARGUS_TOOLS="$(bash scripts/tools.sh)"`.
#   ARGUS_TOOLS  cache directory (default: ~/.cache/argus-tools)
set -euo pipefail
tools="${ARGUS_TOOLS:-$HOME/.cache/argus-tools}"
mkdir -p "$tools"

# moto: an S3-compatible server (PyPI), in its own virtualenv.
if [ ! -x "$tools/moto/bin/moto_server" ]; then
  echo "installing moto into $tools/moto" >&2
  python3 -m venv "$tools/moto"
  "$tools/moto/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.*'
fi

# schemathesis: generates requests from the API's OpenAPI document (tests/it/api).
if [ ! -x "$tools/schemathesis/bin/st" ]; then
  echo "installing schemathesis into $tools/schemathesis" >&2
  python3 -m venv "$tools/schemathesis"
  "$tools/schemathesis/bin/pip" install --quiet --disable-pip-version-check 'schemathesis==4.*'
fi

# Apache Kafka: the broker's jars from Maven Central (there is no other way to get them
# here), run by scripts/kafka.sh. The broker only depends on slf4j-api, so a backend
# (log4j2, as in Kafka's own distribution) is added for its logs to go to a file. The
# marker file is written last, so an interrupted fetch is redone on the next run.
kafka_version=4.4.0
log4j_version=2.25.3
if [ "$(cat "$tools/kafka/lib/.complete" 2>/dev/null)" != "$kafka_version" ]; then
  echo "fetching Apache Kafka $kafka_version jars into $tools/kafka/lib" >&2
  rm -rf "$tools/kafka/lib" "$tools/kafka/pom" "$tools/kafka/kafka.jsa"
  mkdir -p "$tools/kafka/pom"
  cat >"$tools/kafka/pom/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>argus.tests</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$kafka_version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$log4j_version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$log4j_version</version>
    </dependency>
  </dependencies>
</project>
POM
  mvn --batch-mode --quiet -f "$tools/kafka/pom/pom.xml" \
    -Dmaven.repo.local="$tools/m2" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tools/kafka/lib" >"$tools/kafka/mvn.log" 2>&1 || {
    cat "$tools/kafka/mvn.log" >&2
    exit 1
  }
  echo "$kafka_version" >"$tools/kafka/lib/.complete"
fi
# A class-data archive of the classes the broker loads while starting: it halves the
# broker's start-up. Built by one start and stop of a throw-away broker, and again when
# the JVM or the jars no longer accept it (-Xshare:on refuses a stale archive).
if ! java -Xshare:on -XX:SharedArchiveFile="$tools/kafka/kafka.jsa" -cp "$tools/kafka/lib/*" \
  -version >/dev/null 2>&1; then
  echo "building the Kafka broker's class-data archive $tools/kafka/kafka.jsa" >&2
  scratch="$(mktemp -d)"
  rm -f "$tools/kafka/kafka.jsa"
  ARGUS_TOOLS="$tools" ARGUS_KAFKA_CDS_DUMP="$tools/kafka/kafka.jsa.tmp" \
    bash "$(dirname "$0")/kafka.sh" start "$scratch" >/dev/null
  ARGUS_TOOLS="$tools" bash "$(dirname "$0")/kafka.sh" stop "$scratch"
  mv "$tools/kafka/kafka.jsa.tmp" "$tools/kafka/kafka.jsa"
  rm -rf "$scratch"
fi

# confluent-kafka (PyPI, with librdkafka inside the wheel): a client from outside the
# project, for tests that produce events the way another program would.
if [ ! -x "$tools/pyclient/bin/python" ] || ! "$tools/pyclient/bin/python" -c 'import confluent_kafka' 2>/dev/null; then
  echo "installing confluent-kafka into $tools/pyclient" >&2
  python3 -m venv "$tools/pyclient"
  "$tools/pyclient/bin/pip" install --quiet --disable-pip-version-check 'confluent-kafka==2.*'
fi
echo "$tools"
