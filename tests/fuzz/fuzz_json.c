/*
 * Fuzz target for the strict JSON parser (gatekit/json.h): every message from the
 * edge passes through it first, so any byte string must give either a document or an
 * error message with a position, never a crash, a leak or an over-read. When a
 * document comes back, dumping and re-parsing it must succeed too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gatekit/json.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 err[256];
	json_t	*j, *again;
	char	*dump;

	err[0] = '\0';
	j = gk_json_parse((const char *)data, size, 64 * 1024, err, sizeof(err));
	if (j == NULL) {
		if (err[0] == '\0')
			abort();	/* every rejection must say why */
		return 0;
	}
	dump = gk_json_dump_compact(j);
	if (dump == NULL)
		abort();
	again = gk_json_parse(dump, strlen(dump), 1024 * 1024, err, sizeof(err));
	if (again == NULL || !json_equal(j, again))
		abort();	/* what we print we must read back unchanged */
	json_decref(again);
	free(dump);
	json_decref(j);
	return 0;
}
