/*
 * passage_id (see passage_id.h): SHA-256 through OpenSSL's EVP interface, the
 * same libcrypto that ecogatectl uses for migration checksums.
 */
#include <string.h>

#include <openssl/evp.h>

#include "passage_id.h"

int
passage_id(char out[GK_ID_LEN], const char *site, const char *first_read_id,
    int64_t wall_ms)
{
	static const char	 hex[] = "0123456789abcdef";
	static const char	 tag[] = "ecogate.passage.v1";
	unsigned char		 d[EVP_MAX_MD_SIZE], b[16];
	unsigned int		 dlen = 0;
	EVP_MD_CTX		*ctx;
	int			 ok, i, k;

	if (site == NULL || first_read_id == NULL || site[0] == '\0' ||
	    first_read_id[0] == '\0')
		return -1;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	/* The NULs keep ("ab","c") and ("a","bc") apart. */
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, tag, sizeof(tag)) == 1 &&
	    EVP_DigestUpdate(ctx, site, strlen(site) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, first_read_id, strlen(first_read_id)) == 1 &&
	    EVP_DigestFinal_ex(ctx, d, &dlen) == 1 && dlen >= 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	if (wall_ms < 0)
		wall_ms = 0;
	if (wall_ms > 0xffffffffffffLL)
		wall_ms = 0xffffffffffffLL;
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)((uint64_t)wall_ms >> (40 - 8 * i));
	memcpy(b + 6, d, 10);
	b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));	/* version 7 */
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));	/* variant 10 */
	for (i = 0, k = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[b[i] >> 4];
		out[k++] = hex[b[i] & 0x0f];
	}
	out[k] = '\0';
	return 0;
}
