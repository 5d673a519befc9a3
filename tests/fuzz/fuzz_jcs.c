/*
 * Fuzz target for RFC 8785 canonicalisation (services/ledger-writer/jcs.c): every
 * ledger record is canonicalised before it is hashed, and `ledger verify` and proof
 * checks canonicalise again what they read back. So for any document either parser
 * accepts, canonicalising must give an answer or a reason, never a crash; and the
 * canonical text must parse again, to the same value, and be its own canonical form
 * (canonicalising is idempotent), or a record could not be re-verified.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gatekit/json.h>

#include "jcs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * same_value: j was read as JCS reads (every number a double), so the canonical
 * text must read back as an equal value; gatekit's parser keeps integers as
 * integers, which come back as doubles, so there only the texts are compared.
 */
static void
check(json_t *j, int same_value)
{
	char err[256], *c1, *c2;
	size_t n1, n2;
	json_t *again;

	err[0] = '\0';
	if ((c1 = jcs_canonical(j, &n1, err, sizeof(err))) == NULL) {
		if (err[0] == '\0')
			abort();	/* every refusal must say why */
		return;
	}
	if ((again = jcs_parse(c1, n1, n1, err, sizeof(err))) == NULL)
		abort();	/* what we write we must read back */
	if (same_value && !json_equal(j, again))
		abort();
	if ((c2 = jcs_canonical(again, &n2, err, sizeof(err))) == NULL ||
	    n1 != n2 || memcmp(c1, c2, n1) != 0)
		abort();	/* canonical of canonical is the identity */
	free(c2);
	json_decref(again);
	free(c1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *j;

	/* As records arrive (gatekit's strict parser)... */
	if ((j = gk_json_parse((const char *)data, size, 64 * 1024, err,
	    sizeof(err))) != NULL) {
		check(j, 0);
		json_decref(j);
	}
	/* ...and as proof files and ledger rows are read back (numbers as doubles). */
	if ((j = jcs_parse((const char *)data, size, 64 * 1024, err,
	    sizeof(err))) != NULL) {
		check(j, 1);
		json_decref(j);
	}
	return 0;
}
