# Shared helpers for .ci/ scripts (sourced, not run). Bash 5 (EPOCHREALTIME).

# ci_now: seconds since the epoch with microseconds, for timings.
ci_now() { printf '%s' "${EPOCHREALTIME/,/.}"; }

# ci_since START: elapsed seconds since START (from ci_now), one decimal, e.g. "12.3s" or "2m05s".
ci_since() {
  local start=$1 end
  end=$(ci_now)
  awk -v s="$start" -v e="$end" 'BEGIN {
    d = e - s; if (d < 0) d = 0
    if (d < 60) printf "%.1fs", d; else printf "%dm%02ds", int(d / 60), int(d) % 60
  }'
}

# ci_log MESSAGE...: one line on stdout with the script's name.
ci_log() { printf '%s: %s\n' "${CI_NAME:-ci}" "$*"; }

# ci_die MESSAGE...: a clear error on stderr, exit 1.
ci_die() {
  printf '%s: error: %s\n' "${CI_NAME:-ci}" "$*" >&2
  exit 1
}

# ci_have COMMAND: is COMMAND on PATH and executable? (bash's `command -v` also reports non-executable files)
ci_have() {
  local path
  path=$(command -v "$1" 2>/dev/null) && [[ -x $path ]]
}

# ci_http_status URL [CURL-STYLE HEADER...]: prints the HTTP status of a GET (000 when nothing answers).
# Uses curl when present; otherwise node's fetch (node is always there: the project needs it).
ci_http_status() {
  local url=$1
  shift
  if ci_have curl; then
    local args=(-s -o /dev/null -w '%{http_code}' --max-time 5)
    local h
    for h in "$@"; do args+=(-H "$h"); done
    curl "${args[@]}" "$url" 2>/dev/null || true
  else
    node -e '
      const [url, ...hs] = process.argv.slice(1);
      const headers = Object.fromEntries(hs.map((h) => [h.slice(0, h.indexOf(":")), h.slice(h.indexOf(":") + 1).trim()]));
      fetch(url, { headers, signal: AbortSignal.timeout(5000), redirect: "manual" })
        .then((r) => process.stdout.write(String(r.status)), () => process.stdout.write("000"));
    ' "$url" "$@"
  fi
}

# ci_http_header URL NAME [CURL-STYLE HEADER...]: prints response header NAME of a HEAD request (empty if none).
ci_http_header() {
  local url=$1 name=$2
  shift 2
  if ci_have curl; then
    local args=(-s -I --max-time 5)
    local h
    for h in "$@"; do args+=(-H "$h"); done
    curl "${args[@]}" "$url" 2>/dev/null |
      awk -v n="$(printf '%s' "$name" | tr 'A-Z' 'a-z')" '{
        i = index($0, ":")
        if (!found && i > 0 && tolower(substr($0, 1, i - 1)) == n) { v = substr($0, i + 1); sub(/^ +/, "", v); sub(/\r$/, "", v); print v; found = 1 }
      }'
  else
    node -e '
      const [url, name, ...hs] = process.argv.slice(1);
      const headers = Object.fromEntries(hs.map((h) => [h.slice(0, h.indexOf(":")), h.slice(h.indexOf(":") + 1).trim()]));
      fetch(url, { method: "HEAD", headers, signal: AbortSignal.timeout(5000) })
        .then((r) => process.stdout.write(r.headers.get(name) ?? ""), () => {});
    ' "$url" "$name" "$@"
  fi
}

# ci_wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND (every 0.25 s) until it succeeds; 1 on timeout.
ci_wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline
  deadline=$(awk -v n="$(ci_now)" -v s="$seconds" 'BEGIN { printf "%.0f", n + s }')
  until "$@"; do
    if (($(printf '%.0f' "$(ci_now)") >= deadline)); then
      ci_log "gave up waiting for $what after ${seconds}s"
      return 1
    fi
    sleep 0.25
  done
}

# ci_wait_for_pid SECONDS DESCRIPTION PID COMMAND...: like ci_wait_for, but gives up at once when PID exits
# (a daemon that fails on start should not cost the whole timeout).
ci_wait_for_pid() {
  local seconds=$1 what=$2 pid=$3
  shift 3
  local deadline
  deadline=$(awk -v n="$(ci_now)" -v s="$seconds" 'BEGIN { printf "%.0f", n + s }')
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      ci_log "$what (pid $pid) exited while starting"
      return 1
    fi
    if (($(printf '%.0f' "$(ci_now)") >= deadline)); then
      ci_log "gave up waiting for $what after ${seconds}s"
      return 1
    fi
    sleep 0.25
  done
}

# ci_tail_log FILE [LINES]: shows the end of a log file on stderr (for failure messages).
ci_tail_log() {
  local file=$1 lines=${2:-20}
  if [[ -s $file ]]; then
    printf -- '--- last %s lines of %s ---\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2
    printf -- '---\n' >&2
  fi
}
