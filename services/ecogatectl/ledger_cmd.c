/*
 * `ecogatectl ledger SUBCOMMAND ...`: finds the subcommand and runs it with argv
 * starting at its name (so each keeps its own getopt). See ledger_cmd.h.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ledger_cmd.h"

static const struct {
	const char	*name;
	int		(*run)(int, char *[]);
} subs[] = {
	{ "verify", ledger_verify_main },
	{ "prove", ledger_prove_main },
	{ "check-proof", ledger_check_proof_main },
	{ "export", ledger_export_main },
	{ "migrate-import", ledger_import_main },
};

int
ledger_main(int argc, char *argv[])
{
	size_t i;

	if (argc >= 2)
		for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
			if (strcmp(argv[1], subs[i].name) == 0)
				return subs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "ecogatectl ledger: give verify, prove EVENT_ID, check-proof "
	    "FILE, export or migrate-import FILE\n");
	return EX_USAGE;
}
