/*
 * Fuzz target for the verifier's registry record parser: vehicle.v1 records come from
 * Kafka (ecogate.registry.v1) and the Redis cache, so a bad record must give an error
 * naming the field, never a crash, and a good one a plate the plate module accepts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vehicle	 v;
	char			 err[256];

	err[0] = '\0';
	if (registry_parse((const char *)data, size, &v, err, sizeof(err)) == -1 &&
	    err[0] == '\0')
		abort();
	return 0;
}
