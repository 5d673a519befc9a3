/*
 * b64: standard base64 (RFC 4648 section 4, with padding) for the ledger's text
 * formats: root hashes and signatures in checkpoints, proof hashes in proof files.
 * Decoding is strict: only the canonical encoding of some bytes is accepted (no
 * whitespace, no missing or extra padding, no stray bits), so one hash or signature
 * has exactly one spelling and an altered character is never silently ignored.
 */
#ifndef LEDGER_B64_H
#define LEDGER_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters b64_encode() writes for n bytes, without the NUL. */
#define B64_LEN(n)	(((n) + 2) / 3 * 4)

/*
 * Encodes n bytes at in into out (room for B64_LEN(n) + 1), NUL-terminated. Returns
 * the length written, or -1 when outlen is too small.
 */
int	b64_encode(const uint8_t *in, size_t n, char *out, size_t outlen);

/*
 * Decodes the len characters at in into out (room for outlen bytes). Returns the
 * number of bytes, or -1 when in is not canonical base64 or does not fit.
 */
int	b64_decode(const char *in, size_t len, uint8_t *out, size_t outlen);

#endif
