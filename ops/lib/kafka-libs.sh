# shellcheck shell=bash
# Fetching the Apache Kafka broker jars, shared by ops/install-deps.sh and
# ops/servers.sh (which fetches on first use when install-deps was skipped).
# Kafka is not a Debian package: ops/kafka/pom.xml lists the broker, the topic tool
# and a log4j2 binding, and Maven copies them into $CACHE/kafka/libs. A marker file
# holds the pom's hash, so a changed pom refetches and an unchanged one costs nothing.
#
# Sourced, not run. Expects ECOGATE_REPO (the repository root) to be set.

# Where the jars live: $ECOGATE_CACHE_DIR/kafka/libs, default <repo>/.cache/kafka/libs.
ecogate_kafka_libs_dir()
{
	printf '%s\n' "${ECOGATE_CACHE_DIR:-$ECOGATE_REPO/.cache}/kafka/libs"
}

# Succeeds when the jars in the cache match the current pom.
ecogate_kafka_libs_ok()
{
	local libs pom_hash
	libs=$(ecogate_kafka_libs_dir)
	pom_hash=$(sha256sum "$ECOGATE_REPO/ops/kafka/pom.xml" | cut -d' ' -f1)
	[ -f "$libs/.pom-sha256" ] && [ "$(cat "$libs/.pom-sha256")" = "$pom_hash" ] &&
	    ls "$libs"/kafka_2.13-*.jar >/dev/null 2>&1
}

# Copies the jars into the cache unless they are already there. Maven output goes
# to a log that is shown only on failure. Returns non-zero when Maven fails.
ecogate_kafka_fetch()
{
	local libs pom_hash tmp log
	libs=$(ecogate_kafka_libs_dir)
	if ecogate_kafka_libs_ok; then
		return 0
	fi
	if ! command -v mvn >/dev/null 2>&1; then
		echo "kafka: mvn not found; run ops/install-deps.sh first" >&2
		return 1
	fi
	pom_hash=$(sha256sum "$ECOGATE_REPO/ops/kafka/pom.xml" | cut -d' ' -f1)
	mkdir -p "$(dirname "$libs")"
	# Copy into a fresh folder and swap it in, so an interrupted fetch never leaves
	# a half-filled libs folder that looks complete.
	tmp=$(mktemp -d "$(dirname "$libs")/libs.tmp.XXXXXX")
	# mktemp makes it private; the jars are for every user of this checkout.
	chmod 755 "$tmp"
	log="$(dirname "$libs")/fetch.log"
	if ! mvn -B -f "$ECOGATE_REPO/ops/kafka/pom.xml" \
	    dependency:copy-dependencies -DoutputDirectory="$tmp" >"$log" 2>&1; then
		echo "kafka: fetching the broker jars with Maven failed; see $log:" >&2
		tail -n 20 "$log" >&2
		# Maven reports a TLS trust failure as "No plugin found"; say what it is.
		if grep -qE 'PKIX|SSLHandshake|certificate' "$log"; then
			echo "kafka: Maven could not verify Maven Central's TLS certificate:" \
			    "is the proxy's CA in the JDK's trust store (update-ca-certificates)?" >&2
		fi
		rm -rf "$tmp"
		return 1
	fi
	printf '%s\n' "$pom_hash" >"$tmp/.pom-sha256"
	rm -rf "$libs"
	mv "$tmp" "$libs"
}
