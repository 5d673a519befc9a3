#!/usr/bin/env bash
# Builds the benchmarks with the optimised "bench" preset and runs every one of them,
# printing their figures. Benchmarks measure; they never pass or fail on speed.
#
#   bash ops/bench.sh            # all benchmarks
#   bash ops/bench.sh decide     # those whose name contains "decide"
set -euo pipefail
cd "$(dirname "$0")/.."

filter=${1:-}
cmake --preset bench >/dev/null
cmake --build --preset bench >/dev/null
dir=build/bench/tests
found=0
for b in "$dir"/bench_*; do
	[ -x "$b" ] || continue
	case "$(basename "$b")" in *"$filter"*) ;; *) continue ;; esac
	found=1
	echo "== $(basename "$b")"
	case "$(basename "$b")" in
	# The outbox benchmark fsyncs: give it a folder on the build's file system.
	bench_outbox) tmp=$(mktemp -d build/bench/outbox.XXXXXX)
		"$b" "$tmp"
		rm -rf "$tmp" ;;
	*) "$b" ;;
	esac
done
[ "$found" = 1 ] || { echo "bench: no benchmark matches '$filter'" >&2; exit 1; }
