#!/usr/bin/env bash
# Installs what ecogate needs to build, test and run locally on Debian 12: the
# compilers and tools, the client libraries of the four servers, the servers
# themselves (mosquitto, Redis, PostgreSQL 15) and the Apache Kafka broker jars, which
# are not a Debian package and come from Maven Central into the cache folder.
#
# Idempotent: installed packages are checked with dpkg-query and apt-get runs only when
# something is missing, so a second run on a ready machine takes a second or two.
# Runs as root (CI) or as a user with sudo (a developer).
#
# The Debian server packages may start their own system services on install; ours do
# not use them (ops/servers.sh runs private instances on other ports and folders).
#
# Environment: ECOGATE_CACHE_DIR (default <repo>/.cache) for the Kafka jars.
set -eu

ECOGATE_REPO=$(cd "$(dirname "$0")/.." && pwd)
export ECOGATE_REPO
# shellcheck source=ops/lib/kafka-libs.sh
. "$ECOGATE_REPO/ops/lib/kafka-libs.sh"

PACKAGES="build-essential cmake ninja-build pkg-config clang
	mosquitto mosquitto-clients libpaho-mqtt-dev
	librdkafka-dev kcat
	libhiredis-dev redis-server
	libpq-dev postgresql
	libjansson-dev libssl-dev libmodbus-dev python3-jsonschema
	libxlsxwriter-dev python3-openpyxl
	darknet libturbojpeg0-dev
	libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libcurl4-openssl-dev ffmpeg
	python3-pil python3-numpy fonts-dejavu-core fonts-noto-cjk fonts-wqy-zenhei
	docker-compose maven procps"

step()
{
	printf 'install-deps: %s\n' "$*"
}

# Succeeds when Java 17 or newer is on PATH (Kafka 4.x needs 17 for the broker).
have_java17()
{
	local v
	command -v java >/dev/null 2>&1 || return 1
	# "openjdk version "17.0.15"" or "java version "21""; take the major number.
	v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
	[ -n "$v" ] && [ "$v" -ge 17 ]
}

# Succeeds when the package is installed (not merely known, or removed with config).
installed()
{
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: this script installs Debian packages; dpkg/apt-get not found" >&2
	exit 1
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-deps: not root and no sudo; run as root" >&2
		exit 1
	fi
	SUDO=sudo
fi

want=$PACKAGES
if have_java17; then
	step "java >= 17 found on PATH ($(command -v java)); not installing a JDK"
else
	want="$want default-jdk-headless"
fi

missing=
for p in $want; do
	installed "$p" || missing="$missing $p"
done

if [ -n "$missing" ]; then
	step "missing:$missing"
	step "apt-get update"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	step "apt-get install (this takes a few minutes on a fresh machine)"
	# shellcheck disable=SC2086 # the package list is meant to split
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $missing
else
	step "all Debian packages present"
fi

if ecogate_kafka_libs_ok; then
	step "Kafka jars present in $(ecogate_kafka_libs_dir)"
else
	step "fetching Kafka jars with Maven into $(ecogate_kafka_libs_dir)"
	ecogate_kafka_fetch
fi
step "done"
