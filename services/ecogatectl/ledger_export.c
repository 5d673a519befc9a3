/*
 * Placeholder until `ledger export|migrate-import` land (issue 4): says so.
 */
#include <stdio.h>
#include <sysexits.h>

#include "ledger_cmd.h"

static int
missing(const char *what)
{
	fprintf(stderr, "ecogatectl ledger %s: not built yet\n", what);
	return EX_SOFTWARE;
}

int ledger_export_main(int argc, char *argv[]) { (void)argc; (void)argv; return missing("export"); }
int ledger_import_main(int argc, char *argv[]) { (void)argc; (void)argv; return missing("migrate-import"); }
