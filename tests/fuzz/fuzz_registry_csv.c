/*
 * Fuzz target for the registry CSV reader (ecogatectl registry import): the file comes
 * from an environmental manager's spreadsheet or an old system's export, so any bytes
 * must give good rows plus one "FILE:LINE: ..." message per bad row, or an error for
 * the whole file, never a crash. Every record is either a good row or a bad one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry_file	 f;
	char			 err[512];
	size_t			 i;

	memset(&f, 0, sizeof(f));
	err[0] = '\0';
	if (registry_csv_parse("fuzz.csv", (const char *)data, size, &f, err,
	    sizeof(err)) == -1) {
		if (strncmp(err, "fuzz.csv", 8) != 0)
			abort();	/* the whole-file error names the file */
	} else {
		if (f.nrows + f.nbad != f.nrecords || f.nerrors < f.nbad)
			abort();
		for (i = 0; i < f.nerrors; i++)
			if (strncmp(f.errors[i], "fuzz.csv:", 9) != 0)
				abort();
	}
	registry_file_free(&f);
	return 0;
}
