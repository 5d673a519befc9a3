/*
 * Base64 through OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock (see b64.h). DecodeBlock
 * is lenient (it skips blanks, counts padding as zero bytes), so a decoded value is
 * encoded again and must match the input character for character.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "b64.h"

int
b64_encode(const uint8_t *in, size_t n, char *out, size_t outlen)
{
	if (n > (size_t)INT32_MAX / 2 || outlen < B64_LEN(n) + 1)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int
b64_decode(const char *in, size_t len, uint8_t *out, size_t outlen)
{
	unsigned char *tmp;
	char *again;
	size_t pad = 0, n;
	int got, rc = -1;

	if (len == 0 || len % 4 != 0 || len > (size_t)INT32_MAX / 2)
		return -1;
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	n = len / 4 * 3 - pad;
	if (n > outlen)
		return -1;
	tmp = malloc(len / 4 * 3 + 1);
	again = malloc(len + 1);
	if (tmp == NULL || again == NULL)
		goto done;
	got = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
	if (got < 0 || (size_t)got != len / 4 * 3)
		goto done;
	if (EVP_EncodeBlock((unsigned char *)again, tmp, (int)n) != (int)len ||
	    memcmp(again, in, len) != 0)
		goto done;
	memcpy(out, tmp, n);
	rc = (int)n;
done:
	free(tmp);
	free(again);
	return rc;
}
