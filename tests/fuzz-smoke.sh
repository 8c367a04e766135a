#!/usr/bin/env bash
# fuzz-smoke.sh - the 'fuzz' test suite: build the libFuzzer targets with
# clang (in their own build directory) and run each one for 15 s on a copy
# of its seed corpus.  Fails if any target crashes.  Exit 77 (skip) when
# clang or libFuzzer is missing, unless CI=true.  Longer runs: bench/fuzz.
exec "$(dirname "$0")/../bench/fuzz" --smoke
