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
	static const char	 tag[] = "ecogate.passage.v1";
	unsigned char		 d[EVP_MAX_MD_SIZE];
	unsigned int		 dlen = 0;
	EVP_MD_CTX		*ctx;
	int			 ok;

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
	gk_id_from_digest(wall_ms, d, out);
	return 0;
}
