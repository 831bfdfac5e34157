#!/usr/bin/env bash
# Short, bounded fuzz run of every target: installs the pinned cargo-fuzz if missing, builds the
# targets once, runs each for FUZZ_SECONDS (default 20) from its seed corpus, and exits non-zero
# if any target crashed, hung or leaked the private token. See fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")"

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET=${FUZZ_SECONDS:-20}

if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# cargo-fuzz passes nightly-only flags (-Zsanitizer, -Cpasses=sancov-module with -Cllvm-args);
# no nightly can be installed here, and RUSTC_BOOTSTRAP=1 lets stable rustc accept them. Set
# only from here on, so the install above is an ordinary stable build.
export RUSTC_BOOTSTRAP=1

# A smoke run needs coverage and panics, not the last bit of speed: opt-level 1 halves the
# connector's build under cargo-fuzz's single codegen unit, and the connector has no unsafe
# code for AddressSanitizer to watch. Its own target dir keeps these builds apart from the
# default (optimised, ASan) ones of interactive runs.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=1
flags=(--sanitizer none --target-dir target/smoke)

start=$SECONDS
cargo fuzz build "${flags[@]}"
echo "fuzz smoke: built the targets in $((SECONDS - start)) s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0
for target in $(cargo fuzz list); do
    # New inputs go to a scratch corpus; the committed seeds in corpus/<target> are only read.
    mkdir -p "$scratch/$target"
    extra=()
    [[ -f "dict/$target.dict" ]] && extra+=("-dict=dict/$target.dict")
    log="$scratch/$target.log"
    target_start=$SECONDS
    if cargo fuzz run "${flags[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -print_final_stats=1 "${extra[@]}" >"$log" 2>&1; then
        passed=$((passed + 1))
        runs=$(grep -o '^stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
        echo "fuzz smoke: $target ok: $runs runs, $cov, $((SECONDS - target_start)) s"
    else
        failed=$((failed + 1))
        echo "fuzz smoke: $target FAILED:"
        # The panic message names the broken invariant; the rest of the log is libFuzzer's progress.
        sed -n '/panicked at\|ERROR: libFuzzer/,+12p' "$log" | head -40
        # The failing input, so it can be reproduced from the CI log alone (see README.md).
        for artifact in $(grep -o "Test unit written to [^ ]*" "$log" | awk '{print $5}'); do
            echo "fuzz smoke: $artifact (base64): $(base64 -w0 "$artifact")"
        done
    fi
done
echo "fuzz smoke: $passed passed, $failed failed in $((SECONDS - start)) s"
[[ $failed -eq 0 ]]
