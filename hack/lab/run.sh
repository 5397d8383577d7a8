#!/usr/bin/env bash
# run.sh — start, stop and inspect the two-site lab (hack/lab) by hand: for demos, for poking at
# it with govc or curl, or for a test run that should reuse one lab. See hack/lab/README.md.
#
#   hack/lab/run.sh start [--background] [lab flags...]   build (cached) and run the lab
#   hack/lab/run.sh stop [--clean]                        stop it (SIGTERM, then SIGKILL)
#   hack/lab/run.sh status                                is it running, and where
#
# The state directory is $VMDR_LAB_DIR (default ${TMPDIR:-/tmp}/vmdr-lab): lab.json, ca.pem, the
# volumes, lab.pid and (in the background) lab.log. Lab flags are the program's own
# (--vms-per-group 1000, --guest-boot 5s, --ontap-option CloneStopsReplication=true, ...; see
# README.md), except --state-dir, which is VMDR_LAB_DIR's job.
#
# Timeouts (seconds): VMDR_LAB_START_TIMEOUT (600) bounds the wait for lab.json in the
# background; VMDR_LAB_STOP_TIMEOUT (20) is how long stop waits after SIGTERM before SIGKILL.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${VMDR_LAB_DIR:-${TMPDIR:-/tmp}/vmdr-lab}
pidfile=$dir/lab.pid
labjson=$dir/lab.json
logfile=$dir/lab.log
start_timeout=${VMDR_LAB_START_TIMEOUT:-600}
stop_timeout=${VMDR_LAB_STOP_TIMEOUT:-20}

usage() { # the comment block at the top of this file
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

die() {
  echo "run.sh: $*" >&2
  exit 1
}

# lab_pid prints the pid of the running lab of this state directory, or fails. A pid file whose
# process is gone, or is some other program now, is stale and is removed.
lab_pid() {
  [[ -f $pidfile ]] || return 1
  local pid cmdline=""
  pid=$(<"$pidfile")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || true
  fi
  if [[ $cmdline == *"--state-dir $dir "* ]]; then
    echo "$pid"
    return 0
  fi
  rm -f "$pidfile"
  return 1
}

# endpoints prints the summary the lab wrote when it became ready (background mode).
endpoints() {
  if [[ -f $logfile ]]; then
    grep -E '^(lab ready|  )' "$logfile" || true
  fi
}

cmd_start() {
  local background=false
  local args=()
  for a in "$@"; do
    case $a in
      --background) background=true ;;
      --state-dir | --state-dir=* | -state-dir | -state-dir=*)
        die "set the state directory with VMDR_LAB_DIR, not $a" ;;
      *) args+=("$a") ;;
    esac
  done
  if pid=$(lab_pid); then
    die "a lab is already running in $dir (pid $pid); run.sh stop first"
  fi

  local bin
  bin=$("$root/hack/ensure-tool.sh" lab)
  mkdir -p "$dir"
  rm -f "$labjson" # so that waiting for it waits for this run

  if ! $background; then
    echo "$$" >"$pidfile" # exec keeps the pid
    echo "run.sh: starting $bin in the foreground (Ctrl-C stops it); state in $dir" >&2
    exec "$bin" --state-dir "$dir" "${args[@]+"${args[@]}"}"
  fi

  nohup "$bin" --state-dir "$dir" "${args[@]+"${args[@]}"}" </dev/null >"$logfile" 2>&1 &
  local pid=$!
  echo "$pid" >"$pidfile"
  local deadline=$((SECONDS + start_timeout))
  until [[ -f $labjson ]]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pidfile"
      echo "run.sh: the lab exited during start-up; the end of $logfile:" >&2
      tail -n 20 "$logfile" >&2 || true
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      kill -TERM "$pid" 2>/dev/null || true
      rm -f "$pidfile"
      die "no $labjson after ${start_timeout}s (see $logfile); stopped it"
    fi
    sleep 0.1
  done
  # The summary lines follow lab.json by a moment.
  for _ in $(seq 1 50); do
    grep -q '^  CA ' "$logfile" 2>/dev/null && break
    sleep 0.1
  done
  echo "lab running in the background (pid $pid); log $logfile"
  endpoints
  echo "$labjson:"
  cat "$labjson"
  echo
}

cmd_stop() {
  local clean=false
  for a in "$@"; do
    case $a in
      --clean) clean=true ;;
      *) die "stop: unknown argument $a" ;;
    esac
  done
  local pid
  if pid=$(lab_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + stop_timeout))
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        echo "run.sh: pid $pid still running ${stop_timeout}s after SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
    rm -f "$pidfile"
    echo "lab stopped (pid $pid)"
  else
    echo "no lab running in $dir"
  fi
  if $clean && [[ -d $dir ]]; then
    # Only what the lab writes; the directory itself goes only when nothing else is in it.
    rm -rf "$dir/storage" "$dir/ca.pem" "$dir/untrusted-ca.pem" "$labjson" "$labjson.tmp" "$logfile" "$pidfile"
    rmdir "$dir" 2>/dev/null || true
    echo "removed the lab's files from $dir"
  fi
}

cmd_status() {
  local pid
  if pid=$(lab_pid); then
    echo "lab running (pid $pid), state in $dir"
    endpoints
    if [[ -f $labjson ]]; then
      echo "$labjson:"
      cat "$labjson"
      echo
    else
      echo "(still starting: no lab.json yet)"
    fi
    return 0
  fi
  echo "no lab running in $dir"
  return 1
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
