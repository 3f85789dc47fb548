#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft mode, one node acting as broker and
# controller) from Maven Central jars, for tests and the demo.
#
#   kafka.sh fetch                 resolve the jars (once; cached)
#   kafka.sh start DIR PORT [CONTROLLER_PORT]
#                                  format DIR and start a broker on 127.0.0.1:PORT
#                                  (its KRaft controller on CONTROLLER_PORT, else PORT+1)
#   kafka.sh stop DIR              stop it (SIGTERM, then SIGKILL after 20 s)
#   kafka.sh kill DIR              SIGKILL (crash tests)
#   kafka.sh restart DIR PORT      start again on existing data (after stop/kill)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VERSION=3.9.1
LIBS=${DIPGATE_KAFKA_LIBS:-${XDG_CACHE_HOME:-$HOME/.cache}/dipgate/kafka-$VERSION}

fetch() {
  if [ -f "$LIBS/kafka_2.13-$VERSION.jar" ]; then return 0; fi
  mkdir -p "$LIBS"
  mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIBS" \
    -Dkafka.version="$VERSION" >&2
}

java_cmd() {
  local dir=$1; shift
  exec java -Xms128m -Xmx512m -XX:+UseSerialGC \
    -Dlog4j.configuration="file:$dir/log4j.properties" \
    -cp "$LIBS/*" "$@"
}

launch() {
  local dir=$1 port=$2
  (java_cmd "$dir" kafka.Kafka "$dir/server.properties" >"$dir/kafka.out" 2>&1) &
  echo $! > "$dir/kafka.pid"
  for _ in $(seq 1 300); do
    if (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
      # The JVM's own output, then the broker's log (a port taken shows there).
      echo "kafka exited; see $dir/kafka.out and $dir/kafka.log" >&2
      tail -20 "$dir/kafka.out" >&2
      [ -f "$dir/kafka.log" ] && grep -E "ERROR|FATAL|Exception" "$dir/kafka.log" | tail -10 >&2
      return 1
    fi
    sleep 0.1
  done
  echo "kafka did not open port $port" >&2
  return 1
}

start() {
  local dir=$1 port=$2 controller=${3:-$(($2 + 1))}
  fetch
  mkdir -p "$dir/data"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=1
PROPS
  cat > "$dir/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/kafka.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
  echo "$port" > "$dir/port"
  (java_cmd "$dir" kafka.tools.StorageTool format -t "$(java_cmd "$dir" kafka.tools.StorageTool random-uuid)" \
     -c "$dir/server.properties" --ignore-formatted) >"$dir/format.out" 2>&1 ||
    { cat "$dir/format.out" >&2; return 1; }
  launch "$dir" "$port"
}

stop() {
  local dir=$1 signal=${2:-TERM}
  [ -f "$dir/kafka.pid" ] || return 0
  local pid; pid=$(cat "$dir/kafka.pid")
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/kafka.pid"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start "$2" "$3" "${4:-}" ;;
  restart) launch "$2" "$3" ;;
  stop) stop "$2" TERM ;;
  kill) stop "$2" KILL ;;
  *) echo "usage: $0 fetch | start DIR PORT [CONTROLLER_PORT] | restart DIR PORT | stop DIR | kill DIR" >&2; exit 2 ;;
esac
