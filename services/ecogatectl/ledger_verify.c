/*
 * Placeholder until `ledger verify|prove|check-proof` land (issue 4): says so.
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

int ledger_verify_main(int argc, char *argv[]) { (void)argc; (void)argv; return missing("verify"); }
int ledger_prove_main(int argc, char *argv[]) { (void)argc; (void)argv; return missing("prove"); }
int ledger_check_proof_main(int argc, char *argv[]) { (void)argc; (void)argv; return missing("check-proof"); }
