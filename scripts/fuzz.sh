#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (libFuzzer; needs the nightly toolchain) for a bounded
# time each. Not part of scripts/test.sh: fuzzing is open-ended; run it before a release or
# after touching a parser.
#
#   scripts/fuzz.sh                    # every target, 60 s each
#   scripts/fuzz.sh 300 mqtt_inbound   # one target, 5 minutes
#
# Targets: mqtt_inbound (every payload a device can publish to the server), device_command
# (the agent's validation of a command), config (the config parser and validator).
# Seeds come from fuzz/seeds/ (contract examples) plus the shipped deploy/config/rebound.toml;
# the growing corpus stays in fuzz/corpus/ (not committed). A crash leaves its input in
# fuzz/artifacts/<target>/ and this script exits non-zero: turn that input into a regression
# test next to the parser (src/mqtt/payload_tests.rs, src/agent/validate.rs, src/config/load.rs)
# before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(mqtt_inbound device_command config)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  cp -n "fuzz/seeds/$target"/* "$corpus"/
  [[ "$target" == config ]] && cp -n deploy/config/rebound.toml "$corpus/shipped.toml"
  printf '\n==> fuzz %s for %ss\n' "$target" "$seconds"
  cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -max_len=65536
done
echo "no crash in ${targets[*]} (${seconds}s each)"
