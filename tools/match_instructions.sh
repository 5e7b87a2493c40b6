#!/usr/bin/env bash
# Instructions a match costs the server, counted by valgrind's callgrind:
# unlike seconds, the count is the same from run to run and from one
# machine's day to the next, so two binaries can be compared on a noisy
# machine (BENCHMARKS.md, "Matching: one function both ways").
#
#   tools/match_instructions.sh SERVER_BINARY DATA_DIR [REQUESTS]
#
# DATA_DIR is a SQLite data folder the bench harness made (its work dir's
# `sqlite/`; copy it first, the server writes sessions to it). The server
# starts without instrumentation; after 20 matches to warm it, callgrind
# counts REQUESTS (default 200) matches sent one after another, each of a
# published demand, as the harness's `matches` operation picks them (the
# sign-in before them is not counted).
# Needs valgrind (Debian's package) and python3.
set -euo pipefail

binary=$(realpath "$1")
data=$(realpath "$2")
requests=${3:-200}
listen=${LISTEN:-127.0.0.1:18099}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

export TECHTRADE__DATABASE__URL="sqlite://$data/techtrade.sqlite3" \
    TECHTRADE__DATA_DIR="$data" \
    TECHTRADE__SERVER__LISTEN="$listen" \
    TECHTRADE__MAIL__ENABLED=false \
    TECHTRADE__LOG__FILTER=warn,techtrade_web::published=info \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=4194304

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/callgrind.%p" \
    "$binary" serve >"$out/server.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
    curl -sf "http://$listen/readyz" >/dev/null && break
    sleep 1
done
# A binary that reads matching's terms when it starts does so before
# anything is counted.
if grep -q "published cache: matching terms read" "$binary"; then
    for _ in $(seq 1 600); do
        grep -q "matching terms read" "$out/server.log" && break
        sleep 1
    done
fi

# Signed in before counting: a sign-in hashes a password (argon2), which
# is no part of a match.
token=$(python3 - "$data/techtrade.sqlite3" "$listen" <<'EOF'
import http.client, json, sqlite3, sys

database, listen = sys.argv[1], sys.argv[2]
email = sqlite3.connect(database).execute(
    "SELECT email FROM users WHERE role = 'member' ORDER BY email LIMIT 1").fetchone()[0]
host, port = listen.split(":")
http_ = http.client.HTTPConnection(host, int(port), timeout=600)
http_.request("POST", "/api/v1/auth/login", json.dumps({"email": email, "password": "techtrade-bench-password-1"}),
              {"content-type": "application/json"})
print(json.loads(http_.getresponse().read())["token"])
EOF
)

run() {
    python3 - "$data/techtrade.sqlite3" "$listen" "$1" "$token" <<'EOF'
import http.client, sqlite3, sys

database, listen, count, token = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rows = sqlite3.connect(database)
ids = [r[0] for r in rows.execute("SELECT id FROM demands WHERE status = 'published' ORDER BY id")]
host, port = listen.split(":")
http_ = http.client.HTTPConnection(host, int(port), timeout=600)
for n in range(1, count + 1):
    http_.request("GET", f"/api/v1/demands/{ids[(n * 7919) % len(ids)]}/matches?limit=20",
                  headers={"authorization": f"Bearer {token}"})
    response = http_.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f"a match answered {response.status}")
EOF
}

run 20
callgrind_control -i on "$server" >/dev/null 2>&1
run "$requests"
callgrind_control -i off "$server" >/dev/null 2>&1
callgrind_control -d "$server" >/dev/null 2>&1
kill "$server"
wait "$server" 2>/dev/null || true

# The dump with the counted requests is the largest file.
dump=$(ls -S "$out"/callgrind.* | head -n 1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "$(basename "$binary"): $((total / requests)) instructions a match ($requests matches)"
[[ -n "${KEEP_PROFILE:-}" ]] && cp "$dump" "$KEEP_PROFILE"
exit 0
