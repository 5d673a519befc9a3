/*
 * ecogatectl selftest: sample gate traffic through MQTT, Redis, Kafka and PostgreSQL
 * with the daemons' own adapters; one line per server, exit 0 only when all answered.
 */
#ifndef ECOGATECTL_SELFTEST_H
#define ECOGATECTL_SELFTEST_H

/* Runs "ecogatectl selftest [-n] [-f FILE]"; returns a <sysexits.h> code. */
int	selftest_run(int argc, char *argv[]);

#endif
