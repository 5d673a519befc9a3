/*
 * `ecogatectl ledger SUBCOMMAND`: the inspector's and the environmental manager's
 * hands on the ledger (docs/ledger.md). Each subcommand is its own function with its
 * own options, run with argv[0] = the subcommand's name, returning a sysexits code:
 *
 *	verify [--site S] [--from SEQ]          ledger_verify.c
 *	prove EVENT_ID [--site S] [-o FILE]     ledger_verify.c
 *	check-proof FILE --pubkey KEY.pem       ledger_verify.c (no database)
 *	export --from --to --format csv|xlsx [--ledger L] [-o FILE]   ledger_export.c
 *	migrate-import FILE                     ledger_export.c
 */
#ifndef ECOGATECTL_LEDGER_CMD_H
#define ECOGATECTL_LEDGER_CMD_H

int	ledger_main(int argc, char *argv[]);

int	ledger_verify_main(int argc, char *argv[]);
int	ledger_prove_main(int argc, char *argv[]);
int	ledger_check_proof_main(int argc, char *argv[]);
int	ledger_export_main(int argc, char *argv[]);
int	ledger_import_main(int argc, char *argv[]);

#endif
