/*
 * From the plate reader's output to a plate string. The reader is a holistic
 * classifier: for each character position it gives a softmax over the same symbol
 * list (provinces, letters, digits, the special suffixes and a blank for the unused
 * eighth position of a 7-character plate). Taking the argmax at each position yields
 * strings no plate can have ("沪A1O34挂" with an O, a letter where only digits go), so
 * the decoder searches the plate layouts of GA 36-2018 that gatekit/plate.h accepts:
 * each layout allows a set of symbols at each position, so the best string of one
 * layout is the per-position best among its allowed symbols, and the best legal read
 * is the best of those layouts (by the product of the chosen probabilities). A colour
 * known from the detector narrows the layouts to those of that colour.
 *
 * Pure: no I/O, no allocation, no global state; thread-safe.
 */
#ifndef LPR_PLATE_DECODE_H
#define LPR_PLATE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include <gatekit/plate.h>

#define PD_SYM_MAX	128	/* symbols the reader may have */
#define PD_POS_MAX	10	/* character positions of the reader */

/* The reader's symbols in output order; cp 0 is the blank. */
struct pd_alphabet {
	int		nsym;
	uint32_t	cp[PD_SYM_MAX];
	int		blank;		/* index of the blank, or -1 */
	unsigned	cls[PD_SYM_MAX];	/* where each may stand (internal) */
};

/* A decoded read. */
struct pd_read {
	char			plate[GK_PLATE_MAX];	/* UTF-8, passes gk_plate_check() */
	int			nchars;			/* 7 or 8 */
	double			confidence;		/* product of the chosen
							 * probabilities, blank included */
	double			char_conf[PD_POS_MAX];	/* per character, in order */
	enum gk_plate_kind	kind;			/* as gk_plate_check() says */
	enum gk_plate_colour	colour;			/* the layout's colour when the
							 * input colour was unknown and
							 * the layout has one; else the
							 * input colour */
};

/*
 * Builds an alphabet from a symbol list: one symbol per line (LF or CRLF), each a
 * single UTF-8 character, or the blank token (e.g. "_") for the blank. Empty lines
 * at the end are ignored. Returns 0, or -1 with err filled (the line at fault).
 */
int	pd_alphabet_parse(struct pd_alphabet *a, const char *text, size_t len,
	    const char *blank, char *err, size_t errlen);

/*
 * Decodes probs (npos groups of a->nsym probabilities, position-major) into the most
 * probable legal plate. colour: the plate colour if known (GK_PLATE_COLOUR_UNKNOWN
 * otherwise); flags: GK_PLATE_NEV_EXT or 0. Returns 0 with *out filled, or -1 when no
 * layout fits the reader (npos not 7 or 8, or an alphabet lacking what every layout
 * needs).
 */
int	pd_decode(const struct pd_alphabet *a, const float *probs, int npos,
	    enum gk_plate_colour colour, unsigned flags, struct pd_read *out);

/*
 * pd_decode() for a colour that is itself a guess (the detector's): when the best
 * read that colour rules out is more than factor times as probable as the best read
 * it allows, that read wins and *overruled is 1; its colour is then the one its
 * layout implies (警 white, 领 black...), or GK_PLATE_COLOUR_UNKNOWN where the layout
 * allows several (an ordinary plate: blue or yellow). factor 0: never overruled.
 * Returns as pd_decode().
 */
int	pd_decode_guess(const struct pd_alphabet *a, const float *probs, int npos,
	    enum gk_plate_colour colour, unsigned flags, double factor,
	    struct pd_read *out, int *overruled);

/*
 * A site's province prior. The readers were trained on every province equally often;
 * a gate in Shanghai sees mostly 沪 and its neighbours, and where the first character
 * is a close call (苏 or 沪 under dirt at night) that knowledge should tip it, as the
 * "preferred province" setting of commercial plate cameras does. spec lists shares of
 * the traffic, "沪:0.5,苏:0.15,浙:0.1": each named first-position symbol (a province
 * or 使) gets its share, the others share the rest evenly. The shares must be over 0
 * and add up to at most PD_PRIOR_MAX, so that a plate from elsewhere can still be
 * read. Fills w[a->nsym]: the share of each first-position symbol divided by the
 * share it has when all are equal (Bayes' rule against the readers' even prior), 1
 * for every other symbol; "" (or NULL) gives all 1. Returns 0, or -1 with err saying
 * what is wrong where.
 */
#define PD_PRIOR_MAX	0.95

int	pd_prior_parse(const struct pd_alphabet *a, const char *spec, float *w,
	    char *err, size_t errlen);

/* Multiplies the first position's probabilities in probs by w (pd_prior_parse()) and
 * makes them add up to what they added up to before. */
void	pd_prior_apply(const struct pd_alphabet *a, float *probs, const float *w);

/* The argmax string of probs, blanks skipped, for logs (may be illegal). */
void	pd_argmax(const struct pd_alphabet *a, const float *probs, int npos,
	    char *buf, size_t len);

#endif
