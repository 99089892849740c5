#!/usr/bin/env bash
# Three MySQL driver test suites against MariaDB directly and through movex's front door.
#
#   tests/driver_suites/run.sh <movex-binary> [suite...]      suites: pymysql go connector (default: all)
#   MODES="direct src_only src_first" (default: all three); MODES=direct needs no binary ("-" is fine)
#   PROXY_EXTRA='max_packet_bytes = 268435456'  (optional: lines added to [proxy.mysql]; default none)
#   OUT=<dir>  (default: $SUITES_DIR/results/<UTC timestamp>; results/latest points at it)
#   SUITES_DIR=<dir>  where the suites are set up and run (default /tmp/suites)
#
# One suite and one mode at a time. Each (suite, mode) gets fresh databases suite_src and suite_dst
# (utf8mb4) on 127.0.0.1:3306 and, for src_only/src_first, its own `movex serve` (own state store,
# free ports), moved by POST /src_only [then /src_first]; the suite connects to the front door as
# user app/app-secret with database suite_src (the source's name). Results per test go to
# OUT/<suite>.<mode>.tsv (id \t pass|fail|error|skip|xfail \t message), wall seconds to
# OUT/<suite>.<mode>.wall, raw output to OUT/<suite>.<mode>.log; after src_first, the two databases
# are compared (OUT/<suite>.src_first.consistency). OUT/summary.txt is printed at the end.
set -uo pipefail
ROOT=${SUITES_DIR:-/tmp/suites}
HERE=$(cd "$(dirname "$0")" && pwd)
MOVEX_ARG=${1:-}
shift || true
SUITES=${*:-pymysql go connector}
MODES=${MODES:-direct src_only src_first}
NICE=${NICE:-10}
OUT=${OUT:-$ROOT/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
ln -sfn "$OUT" "$ROOT/results/latest"
DB_SRC=suite_src
DB_DST=suite_dst
MARIADB="mariadb -uroot -h127.0.0.1 -P3306"
PY=$ROOT/venv/py/bin/python
MYC_PY=$ROOT/venv/myc/bin/python

bash "$HERE/prep.sh" || exit 1

MOVEX=""
if [[ " $MODES " == *" src_"* ]]; then
  [ -x "$MOVEX_ARG" ] || { echo "usage: $0 <movex-binary> [suite...] (MODES=direct needs none)"; exit 2; }
  MOVEX=$(realpath "$MOVEX_ARG")
  "$MOVEX" --version > "$OUT/movex.version" 2>&1 || true
  sha256sum "$MOVEX" >> "$OUT/movex.version"
fi
{ echo "suites: $SUITES"; echo "modes: $MODES"; echo "movex: ${MOVEX:-none}"; $MARIADB -N -e 'select version()'; } > "$OUT/run.info"

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/run.log"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() { # port seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    [ -n "${SERVE_PID:-}" ] && ! kill -0 "$SERVE_PID" 2>/dev/null && return 1
    sleep 0.1
  done
  return 1
}

fresh_dbs() {
  $MARIADB -e "DROP DATABASE IF EXISTS $DB_SRC; DROP DATABASE IF EXISTS $DB_DST;
               CREATE DATABASE $DB_SRC CHARACTER SET utf8mb4; CREATE DATABASE $DB_DST CHARACTER SET utf8mb4;"
}

SERVE_PID=""
start_movex() { # mode tag -> sets HOST PORT USER PASS
  local mode=$1 tag=$2
  local dir="$OUT/$tag.movex"
  mkdir -p "$dir/modules"
  local hp pp
  hp=$(free_port); pp=$(free_port)
  cat > "$dir/movex.toml" <<EOF
[source]
url = "mysql://root@127.0.0.1:3306/$DB_SRC"
[destination]
url = "mysql://root@127.0.0.1:3306/$DB_DST"
[state]
url = "sqlite://$dir/state.db"
[modules]
dir = "$dir/modules"
[policy]
auto_promote = false
[http]
listen = "127.0.0.1:$hp"
[proxy.mysql]
listen = "127.0.0.1:$pp"
${PROXY_EXTRA:-}
[[proxy.mysql.users]]
name = "app"
password = "app-secret"
EOF
  (cd "$dir" && exec nice -n "$NICE" "$MOVEX" serve --config "$dir/movex.toml" > "$dir/serve.out" 2> "$dir/serve.log") &
  SERVE_PID=$!
  if ! wait_port "$hp" 120; then log "movex serve did not listen on $hp (see $dir/serve.log)"; stop_movex; return 1; fi
  local route
  for route in /src_only $([ "$mode" = src_first ] && echo /src_first); do
    curl -s -X POST "http://127.0.0.1:$hp$route" > "$dir/post$(basename $route).json"
    grep -q '"code":0' "$dir/post$(basename $route).json" || { log "POST $route failed: $(cat "$dir/post$(basename $route).json")"; stop_movex; return 1; }
  done
  wait_port "$pp" 30 || { log "front door did not listen on $pp"; stop_movex; return 1; }
  curl -s "http://127.0.0.1:$hp/status" > "$dir/status.before.json"
  HTTP_PORT=$hp HOST=127.0.0.1 PORT=$pp USER_=app PASS=app-secret
}

stop_movex() {
  [ -z "$SERVE_PID" ] && return
  [ -n "${HTTP_PORT:-}" ] && curl -s "http://127.0.0.1:$HTTP_PORT/status" > "$OUT/$TAG.movex/status.after.json" 2>/dev/null
  [ -n "${HTTP_PORT:-}" ] && curl -s "http://127.0.0.1:$HTTP_PORT/metrics" > "$OUT/$TAG.movex/metrics.txt" 2>/dev/null
  kill -TERM "$SERVE_PID" 2>/dev/null
  local i
  for ((i = 0; i < 100; i++)); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVE_PID" 2>/dev/null
  wait "$SERVE_PID" 2>/dev/null
  SERVE_PID="" HTTP_PORT=""
}
trap 'stop_movex; exit 130' INT TERM

run_pymysql() { # tag
  local w=$ROOT/work/pymysql
  cat > "$w/pymysql/tests/databases.json" <<EOF
[
  {"host": "$HOST", "port": $PORT, "user": "$USER_", "password": "$PASS", "database": "$DB_SRC", "use_unicode": true, "local_infile": true},
  {"host": "$HOST", "port": $PORT, "user": "$USER_", "password": "$PASS", "database": "$DB_SRC"}
]
EOF
  cp "$w/pymysql/tests/databases.json" "$OUT/$1.databases.json"
  (cd "$w" && PYTHONPATH="$w" timeout 2400 nice -n "$NICE" "$PY" -m pytest -v -p no:cacheprovider --timeout=300 \
      --junitxml="$OUT/$1.junit.xml" pymysql/tests) > "$OUT/$1.log" 2>&1
  "$PY" "$HERE/convert.py" pymysql "$OUT/$1.junit.xml" "$OUT/$1.tsv"
}

run_go() { # tag
  local pkg=$ROOT/gopath/src/github.com/go-sql-driver/mysql
  (cd "$pkg" && GO111MODULE=off GOPATH=$ROOT/gopath GOCACHE=$ROOT/gocache GOFLAGS= \
      MYSQL_TEST_USER=$USER_ MYSQL_TEST_PASS=$PASS MYSQL_TEST_PROT=tcp MYSQL_TEST_ADDR=$HOST:$PORT MYSQL_TEST_DBNAME=$DB_SRC \
      timeout 2400 nice -n "$NICE" go test -v -json -count=1 -timeout 35m .) > "$OUT/$1.json" 2> "$OUT/$1.log"
  "$PY" "$HERE/convert.py" go "$OUT/$1.json" "$OUT/$1.tsv"
}

run_connector() { # tag
  local w=$ROOT/work/myc
  rm -f "$OUT/$1.jsonl"
  (cd "$w" && MYCONNPY_DB=$DB_SRC MYCONNPY_RESULTS="$OUT/$1.jsonl" timeout 3600 nice -n "$NICE" "$MYC_PY" unittests.py \
      --use-external-server --host "$HOST" --port "$PORT" --user "$USER_" --password "$PASS" --verbosity 2) > "$OUT/$1.log" 2>&1
  "$PY" "$HERE/convert.py" connector "$OUT/$1.jsonl" "$OUT/$1.tsv"
}

for suite in $SUITES; do
  for mode in $MODES; do
    TAG=$suite.$mode
    log "== $suite / $mode"
    fresh_dbs
    $MARIADB -N -e "SELECT CONCAT('max_allowed_packet=', @@global.max_allowed_packet, ' local_infile=', @@global.local_infile)" > "$OUT/$TAG.server"
    if [ "$mode" = direct ]; then
      HOST=127.0.0.1 PORT=3306 USER_=root PASS=""
    else
      start_movex "$mode" "$TAG" || { echo "movex failed to start" > "$OUT/$TAG.error"; continue; }
    fi
    t0=$(date +%s.%N)
    "run_$suite" "$TAG"
    t1=$(date +%s.%N)
    python3 -c "print(round($t1-$t0,1))" > "$OUT/$TAG.wall"
    stop_movex
    if [ "$mode" = src_first ]; then
      "$PY" "$HERE/compare.py" "$DB_SRC" "$DB_DST" > "$OUT/$TAG.consistency" 2>&1
      "$PY" "$HERE/journal.py" "$OUT/$TAG.movex/state.db" >> "$OUT/$TAG.consistency" 2>&1
    fi
    log "   $(cut -f2 "$OUT/$TAG.tsv" 2>/dev/null | sort | uniq -c | tr '\n' ' ') wall $(cat "$OUT/$TAG.wall")s, server $(cat "$OUT/$TAG.server")"
  done
done

"$PY" "$HERE/summarize.py" "$OUT" | tee "$OUT/summary.txt"
