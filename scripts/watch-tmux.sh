#!/usr/bin/env bash
# Real-terminal test of `zeroipc watch`: runs it in a detached tmux session of fixed size,
# reads the screen with capture-pane, and checks what a person would see:
#   1. the header names the segment, and every entry is listed with its kind; while
#      another process pushes and pops, the queue's row shows its push and pop rates;
#   2. removing the segment while it is watched is shown in the view (no crash);
#   3. q, Esc and Ctrl-C each quit with status 0 and leave the terminal as it was:
#      alternate screen left, cursor visible, canonical mode and echo back on, shell prompt;
#      with WATCH_PANIC_HOOK=1 (debug builds), so does a panic while drawing;
#   4. rates: while another process advances the counters of a ring in a copy of the C++
#      golden image, the ring's row shows non-zero bytes in/out per second; then the image's
#      magic is overwritten and the view says it is corrupt (and keeps running);
#   5. colour: `zeroipc list` colours its status on a terminal, not with NO_COLOR=1, and
#      never when piped.
#
# Usage: scripts/watch-tmux.sh
#   ZEROIPC_BIN=path/to/zeroipc WATCH_FIXTURE_BIN=path/to/watch_fixture  (optional; built
#   with cargo when unset). Exits 0 on success, 1 with a message on any failure, 77 (SKIP)
#   only when tmux is absent and cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "watch-tmux: FAIL: $*" >&2
  if [[ -n ${SOCK:-} ]] && tmux -L "$SOCK" has-session -t w 2>/dev/null; then
    echo "--- screen ---" >&2
    tmux -L "$SOCK" capture-pane -p -t w >&2 || true
    echo "--------------" >&2
  fi
  exit 1
}

if ! command -v tmux >/dev/null 2>&1; then
  echo "watch-tmux: tmux is missing; installing it with apt-get" >&2
  if ! { command -v apt-get >/dev/null 2>&1 &&
    apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >&2; } ||
    ! command -v tmux >/dev/null 2>&1; then
    echo "watch-tmux: SKIP: tmux is not installed and cannot be installed"
    exit 77
  fi
fi

if [[ -z ${ZEROIPC_BIN:-} || -z ${WATCH_FIXTURE_BIN:-} ]]; then
  cargo build -q -p zeroipc-cli --bin zeroipc --example watch_fixture >&2 ||
    fail "cargo build failed"
  target=${CARGO_TARGET_DIR:-target}
  ZEROIPC_BIN=${ZEROIPC_BIN:-$target/debug/zeroipc}
  WATCH_FIXTURE_BIN=${WATCH_FIXTURE_BIN:-$target/debug/examples/watch_fixture}
fi
[[ -x $ZEROIPC_BIN ]] || fail "no zeroipc binary at $ZEROIPC_BIN"
[[ -x $WATCH_FIXTURE_BIN ]] || fail "no watch_fixture binary at $WATCH_FIXTURE_BIN"
ZEROIPC_BIN=$(realpath "$ZEROIPC_BIN")
WATCH_FIXTURE_BIN=$(realpath "$WATCH_FIXTURE_BIN")

# A private tmux server (never the user's), and a segment name CI's leak check knows.
SOCK="zeroipc-watch-test-$$"
SEG="/zeroipc-test-$$-watch-tmux"
GOLD="/zeroipc-test-$$-watch-tmux-gold"
BUMPER=
cleanup() {
  if [[ -n $BUMPER ]]; then kill "$BUMPER" 2>/dev/null || true; fi
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  rm -f "/dev/shm$SEG" "/dev/shm$GOLD"
}
trap cleanup EXIT

screen() { tmux -L "$SOCK" capture-pane -p -t w; }
pane() { tmux -L "$SOCK" display-message -p -t w "$1"; }

# wait_for WHAT CMD...: retries CMD every 0.1 s for up to 20 s (a deadline, not a speed
# requirement: a loaded 2-core machine may take a while to start a debug binary).
wait_for() {
  local what=$1
  shift
  for _ in $(seq 200); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  fail "timed out waiting for: $what"
}
screen_has() { screen | grep -qF -- "$1"; }
# "EXIT=<status>" at the start of a line (not the typed command's "echo EXIT=$?").
exited() { screen | grep -qE '^EXIT=[0-9]+'; }
# The last non-blank line of the screen is the shell's prompt.
prompt_last() { [[ $(screen | grep -v '^ *$' | tail -n 1) == 'PROMPT$'* ]]; }

# A shell with a known prompt in a 140x30 terminal.
tmux -L "$SOCK" -f /dev/null new-session -d -s w -x 140 -y 30 \
  "env -u NO_COLOR PS1='PROMPT\$ ' TERM=xterm-256color bash --norc --noprofile -i"
wait_for "the shell prompt" prompt_last

runs=0
for key in q Escape C-c; do
  runs=$((runs + 1))
  rm -f "/dev/shm$SEG"
  "$ZEROIPC_BIN" create "$SEG" --size 64K >/dev/null || fail "zeroipc create failed"
  mapfile -t expected < <("$WATCH_FIXTURE_BIN" "$SEG") || fail "watch_fixture failed"
  [[ ${#expected[@]} -ge 2 ]] || fail "watch_fixture created no entries"

  tmux -L "$SOCK" send-keys -t w "clear; '$ZEROIPC_BIN' watch '$SEG' --interval 100; echo EXIT=\$?" Enter
  wait_for "the watch header" screen_has "zeroipc watch $SEG  size 65536"
  [[ $(pane '#{alternate_on}') == 1 ]] || fail "watch did not switch to the alternate screen"
  wait_for "the entry count" screen_has "entries ${#expected[@]}/64"
  for line in "${expected[@]}"; do
    read -r name kind <<<"$line"
    screen | grep -qE "^[0-9]+ +$name +$kind( |$)" ||
      fail "entry '$name' with kind '$kind' is not on the screen"
  done
  screen_has "q, Esc or Ctrl-C: quit" || fail "no key help on the screen"

  if [[ $key == q ]]; then
    # Another process pushes and pops: the queue's row shows both rates.
    "$WATCH_FIXTURE_BIN" "$SEG" churn 60 &
    BUMPER=$!
    queue_moving() { screen | grep -qE '^[0-9]+ +jobs +queue .*push [1-9][0-9.]* pop [1-9]'; }
    wait_for "non-zero queue rates" queue_moving
    kill "$BUMPER" 2>/dev/null || true
    wait "$BUMPER" 2>/dev/null || true
    BUMPER=
    screen | grep -qE '^[0-9]+ +jobs +queue .* 5/16 ' || fail "the queue's fill is not 5/16"
    # The segment disappears while watched: the view says so and keeps running.
    "$ZEROIPC_BIN" rm "$SEG" >/dev/null || fail "zeroipc rm failed"
    wait_for "the 'removed' notice" screen_has "! last good sample shown: $SEG no longer exists"
    screen_has "${expected[0]%% *}" || fail "the last sample's rows are gone"
  fi

  tmux -L "$SOCK" send-keys -t w "$key"
  wait_for "watch to exit after $key" exited
  screen_has "EXIT=0" || fail "watch exited non-zero after $key"
  [[ $(pane '#{alternate_on}') == 0 ]] || fail "still on the alternate screen after $key"
  [[ $(pane '#{cursor_flag}') == 1 ]] || fail "cursor left hidden after $key"
  ! screen_has "OPS/S" || fail "the table is still on the screen after $key"
  wait_for "the prompt after $key" prompt_last

  # Raw mode is off again: canonical input and echo.
  tmux -L "$SOCK" send-keys -t w "clear; stty -a | tr ' ' '\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' '; echo" Enter
  wait_for "stty's answer" screen_has "icanon echo"
  ! screen_has "-icanon" || fail "the terminal was left in raw mode (no icanon) after $key"
  ! screen_has "-echo " || fail "the terminal was left without echo after $key"
done

# --- 3b. A panic while drawing still restores the terminal (debug builds have the hook) ---
if [[ ${WATCH_PANIC_HOOK:-0} == 1 ]]; then
  "$ZEROIPC_BIN" create "$SEG" --size 64K --replace >/dev/null || fail "zeroipc create failed"
  tmux -L "$SOCK" send-keys -t w "clear; ZEROIPC_WATCH_TEST_PANIC=1 '$ZEROIPC_BIN' watch '$SEG'; echo EXIT=\$?" Enter
  wait_for "watch to panic" exited
  screen_has "EXIT=101" || fail "watch did not panic (expected exit 101)"
  screen_has "ZEROIPC_WATCH_TEST_PANIC is set" || fail "the panic message is not on the screen"
  [[ $(pane '#{alternate_on}') == 0 ]] || fail "still on the alternate screen after a panic"
  [[ $(pane '#{cursor_flag}') == 1 ]] || fail "cursor left hidden after a panic"
  wait_for "the prompt after a panic" prompt_last
  tmux -L "$SOCK" send-keys -t w "clear; stty -a | tr ' ' '\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' '; echo" Enter
  wait_for "stty's answer" screen_has "icanon echo"
  ! screen_has "-icanon" || fail "the terminal was left in raw mode after a panic"
  ! screen_has "-echo " || fail "the terminal was left without echo after a panic"
  runs=$((runs + 1))
fi

# --- 4. Rates from counters that another process changes -------------------------------
golden=${GOLDEN_DIR:-golden}/cpp_all.bin
[[ -f $golden ]] || fail "golden image $golden is missing"
cp "$golden" "/dev/shm$GOLD"
# ring_i32 in cpp_all.bin (MANIFEST.md): write_pos u64 at 8520, read_pos u64 at 8528,
# 64-byte capacity, 4-byte elements, 52 bytes unread.
RING=8520
u64_at() { od -An -t u8 -j "$1" -N 8 "/dev/shm$GOLD" | tr -d ' '; }
put_u64() { # put_u64 OFFSET VALUE: one 8-byte little-endian write
  local s= i
  for i in 0 1 2 3 4 5 6 7; do s+=$(printf '\\x%02x' $((($2 >> (8 * i)) & 255))); done
  printf "$s" | dd of="/dev/shm$GOLD" bs=8 count=1 seek="$1" oflag=seek_bytes conv=notrunc status=none
}
w=$(u64_at $RING)
r=$(u64_at $((RING + 8)))
[[ $((w - r)) == 52 ]] || fail "ring_i32 is not where MANIFEST.md says (write_pos $w, read_pos $r)"
tmux -L "$SOCK" send-keys -t w "clear; '$ZEROIPC_BIN' watch '$GOLD' --interval 200; echo EXIT=\$?" Enter
wait_for "the golden image's header" screen_has "zeroipc watch $GOLD  size"
screen | grep -qE '^[0-9]+ +ring_i32 +ring ' || fail "ring_i32 is not shown as a ring"
# Consume, then produce, 8 elements at a time: read_pos first, so that every state a reader
# can see keeps read_pos <= write_pos <= read_pos + capacity.
(
  for _ in $(seq 600); do
    r=$((r + 32)) && put_u64 $((RING + 8)) $r
    w=$((w + 32)) && put_u64 $RING $w
    sleep 0.05
  done
) &
BUMPER=$!
ring_moving() { screen | grep -qE '^[0-9]+ +ring_i32 +ring .*B in [1-9][0-9.]* B out [1-9]'; }
wait_for "non-zero ring rates" ring_moving
kill "$BUMPER" 2>/dev/null || true
wait "$BUMPER" 2>/dev/null || true
BUMPER=
# The segment turns corrupt while watched (its magic overwritten): shown, no crash.
printf 'XXXX' | dd of="/dev/shm$GOLD" bs=4 count=1 conv=notrunc status=none
wait_for "the corruption notice" screen_has "! last good sample shown: "
screen_has "magic" || fail "the corruption notice does not say what is wrong"
screen | grep -qE '^[0-9]+ +ring_i32 +ring ' || fail "the last good rows are gone"
tmux -L "$SOCK" send-keys -t w q
wait_for "watch to exit" exited
screen_has "EXIT=0" || fail "watch exited non-zero"

# --- 5. Colour only on a terminal, and not with NO_COLOR -----------------------------------
tmux -L "$SOCK" send-keys -t w "clear; '$ZEROIPC_BIN' list; echo LISTED" Enter
wait_for "zeroipc list" screen_has "LISTED"
tmux -L "$SOCK" capture-pane -e -p -t w | grep -qF $'\e[32mok' ||
  fail "zeroipc list shows no colour on a terminal"
tmux -L "$SOCK" send-keys -t w "clear; NO_COLOR=1 '$ZEROIPC_BIN' list; echo LISTED" Enter
wait_for "zeroipc list with NO_COLOR" screen_has "LISTED"
screen_has "$SEG " || fail "zeroipc list did not list $SEG"
! tmux -L "$SOCK" capture-pane -e -p -t w | grep -qF $'\e[32m' ||
  fail "zeroipc list is coloured despite NO_COLOR=1"
! "$ZEROIPC_BIN" list | grep -qF $'\e' || fail "zeroipc list is coloured when piped"

echo "watch-tmux: ok ($runs runs: entries and kinds shown, removal shown, q/Esc/Ctrl-C restore the terminal; live queue and ring rates; corruption shown; colour only on a terminal)"
