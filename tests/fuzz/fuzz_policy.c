/*
 * Fuzz target for the verifier's policy parser: the policy arrives as a retained MQTT
 * message that anyone with write access to config/policy could get wrong. Any bytes
 * must give a policy or an error naming the field, and a rejected document must leave
 * the policy in force exactly as it was (the gate keeps deciding on the old rules).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy	 p, before;
	char			 err[256];

	policy_default(&p);
	memcpy(&before, &p, sizeof(p));
	err[0] = '\0';
	if (policy_parse((const char *)data, size, &p, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();	/* every rejection says why */
		if (memcmp(&before, &p, sizeof(p)) != 0)
			abort();	/* and leaves the old policy alone */
	}
	return 0;
}
