#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with the asan preset
# (AddressSanitizer + UBSan, warnings as errors) and runs every test, unit and
# integration. Integration tests get real servers (mosquitto, Redis, PostgreSQL,
# Apache Kafka in KRaft mode) from the CTest fixture, which runs ops/servers.sh on
# 127.0.0.1 high ports with its state under build/asan/servers.
#
#   bash ops/test.sh [extra ctest arguments, e.g. -L unit or -R plate]
set -euo pipefail
cd "$(dirname "$0")/.."

preset=${ECOGATE_TEST_PRESET:-asan}
bash ops/install-deps.sh
echo "== configure and build (preset $preset)"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
echo "== test (preset $preset)"
ctest --preset "$preset" -j "$(nproc)" "$@"
