/*
 * Plate-read fusion (see fuse.h). How a window becomes one plate:
 *
 * 1. Every read is normalised (gk_plate_normalise) and checked (gk_plate_check, colour
 *    not yet considered); only legal plates vote.
 * 2. Legal reads are grouped by length in characters; the group with the largest sum
 *    of confidences wins (a 7- and an 8-character read cannot be aligned safely).
 * 3. Per position, each read of the group votes for its character with its weight: its
 *    per-character confidence when it gave one for every character, else its overall
 *    confidence. The heaviest character wins (ties: the earlier read's).
 * 4. If the voted string is not a legal plate (voting mixed two valid shapes), the
 *    group's most confident read is taken as it is.
 * 5. Confidence = (the highest confidence of a read equal to the fused plate, or the
 *    group's weighted mean when none is) x (the smallest per-position share of the
 *    winning character's weight). Agreeing reads keep the best read's confidence;
 *    a disagreement lowers it in proportion to how strongly it was contested.
 * 6. Colour: weighted majority of the reads that gave one. The plate is "ok" only
 *    when it is legal in that colour, so a colour the plate cannot have is reviewed.
 *
 * When no read is legal the passage carries the most confident read's normalised text
 * (or "?") with plate_ok 0, and the decision sends it to review.
 */
#include <string.h>

#include "fuse.h"

void
fuse_params_default(struct fuse_params *p)
{
	p->window_ms = 800;
	p->early_reads = 2;
	p->early_conf = 0.9;
	p->hold_ms = 10000;
}

void
fuse_lane_init(struct fuse_lane *l)
{
	memset(l, 0, sizeof(*l));
}

void
fuse_trigger(struct fuse_lane *l)
{
	l->hold_until_ms = 0;
	l->held_plate[0] = '\0';
	l->held_trigger[0] = '\0';
}

int64_t
fuse_deadline(const struct fuse_lane *l, const struct fuse_params *p)
{
	if (l->state == FUSE_OPEN)
		return l->opened_ms + p->window_ms;
	if (l->hold_until_ms > 0)
		return l->hold_until_ms;
	return -1;
}

/* Splits valid UTF-8 into character start offsets; returns the count (<= max). */
static int
split_chars(const char *s, int off[], int max)
{
	int	i, n = 0;

	for (i = 0; s[i] != '\0'; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (n == max)
				return max + 1;
			off[n++] = i;
		}
	if (n < max + 1)
		off[n] = i;	/* end sentinel; off has max + 1 entries */
	return n;
}

/*
 * Same vehicle as the held plate: equal, or (both legal) the same length differing in
 * at most one character, the usual OCR slip on a vehicle still standing there.
 */
static int
same_vehicle(const char *a, const char *b)
{
	int	oa[GK_PLATE_MAX + 1], ob[GK_PLATE_MAX + 1];
	int	na, nb, i, diff = 0;
	size_t	la, lb;

	if (strcmp(a, b) == 0)
		return 1;
	if (gk_plate_check(a, GK_PLATE_COLOUR_UNKNOWN, 0, NULL, NULL) == -1 ||
	    gk_plate_check(b, GK_PLATE_COLOUR_UNKNOWN, 0, NULL, NULL) == -1)
		return 0;
	na = split_chars(a, oa, GK_PLATE_MAX);
	nb = split_chars(b, ob, GK_PLATE_MAX);
	if (na != nb)
		return 0;
	for (i = 0; i < na; i++) {
		la = (size_t)(oa[i + 1] - oa[i]);
		lb = (size_t)(ob[i + 1] - ob[i]);
		if (la != lb || memcmp(a + oa[i], b + ob[i], la) != 0)
			diff++;
	}
	return diff <= 1;
}

static void
slot_fill(struct fuse_slot *s, const struct fuse_read *r)
{
	int	off[GK_PLATE_MAX + 1];

	s->r = *r;
	s->ok = 0;
	s->nchars = 0;
	if (gk_plate_normalise(r->plate, s->norm, sizeof(s->norm), NULL) == -1) {
		s->norm[0] = '\0';
		return;
	}
	s->nchars = split_chars(s->norm, off, GK_PLATE_MAX);
	s->ok = gk_plate_check(s->norm, GK_PLATE_COLOUR_UNKNOWN, 0, NULL,
	    NULL) == 0;
}

/* Adds a frame hash to the passage's evidence unless empty or already there. */
static void
add_frame(struct fuse_passage *p, const char *sha)
{
	int i;

	if (sha[0] == '\0')
		return;
	for (i = 0; i < p->nframes; i++)
		if (strcmp(p->frames[i], sha) == 0)
			return;
	gk_strlcpy(p->frames[p->nframes++], sha, sizeof(p->frames[0]));
}

static double
clamp01(double x)
{
	if (!(x >= 0))		/* NaN too */
		return 0;
	return x > 1 ? 1 : x;
}

static double
slot_weight(const struct fuse_slot *s, int pos)
{
	if (s->r.nchar_conf == s->nchars && pos < FUSE_CHARS_MAX)
		return clamp01(s->r.char_conf[pos]);
	return clamp01(s->r.confidence);
}

/* Steps 2-5 of the file comment over the legal reads; returns 0, or -1 if none. */
static int
vote(const struct fuse_lane *l, char *plate, double *conf)
{
	double	 gw[GK_PLATE_MAX + 1] = { 0 };
	int	 offs[FUSE_READS_MAX][GK_PLATE_MAX + 1];
	double	 cw[FUSE_READS_MAX], total, best, minshare = 1, maxeq = -1;
	double	 wsum = 0, csum = 0;
	int	 i, j = 0, k, pos, n = -1, bi = -1;
	size_t	 len, used = 0;
	const char *ch[FUSE_READS_MAX];

	for (i = 0; i < l->nslots; i++)
		if (l->slots[i].ok && l->slots[i].nchars <= GK_PLATE_MAX)
			gw[l->slots[i].nchars] += clamp01(l->slots[i].r.confidence);
	for (i = 0; i <= GK_PLATE_MAX; i++)
		if (gw[i] > 0 && (n == -1 || gw[i] > gw[n]))
			n = i;
	if (n == -1) {
		/* Legal reads of confidence 0 still count, by the first of them. */
		for (i = 0; i < l->nslots && n == -1; i++)
			if (l->slots[i].ok)
				n = l->slots[i].nchars;
		if (n == -1)
			return -1;
	}
	for (i = 0; i < l->nslots; i++)
		if (l->slots[i].ok && l->slots[i].nchars == n)
			split_chars(l->slots[i].norm, offs[i], GK_PLATE_MAX);

	plate[0] = '\0';
	for (pos = 0; pos < n; pos++) {
		/* Candidates at pos: ch[k] with weight cw[k]. */
		int	 nc = 0, who[FUSE_READS_MAX];

		total = 0;
		for (i = 0; i < l->nslots; i++) {
			const struct fuse_slot *s = &l->slots[i];
			const char *c;
			double	 w;

			if (!s->ok || s->nchars != n)
				continue;
			c = s->norm + offs[i][pos];
			len = (size_t)(offs[i][pos + 1] - offs[i][pos]);
			w = slot_weight(s, pos);
			total += w;
			for (k = 0; k < nc; k++)
				if ((size_t)(offs[who[k]][pos + 1] - offs[who[k]][pos]) ==
				    len && memcmp(ch[k], c, len) == 0)
					break;
			if (k == nc) {
				ch[nc] = c;
				who[nc] = i;
				cw[nc++] = 0;
			}
			cw[k] += w;
		}
		best = -1;
		for (k = 0; k < nc; k++)
			if (cw[k] > best) {
				best = cw[k];
				j = k;
			}
		len = (size_t)(offs[who[j]][pos + 1] - offs[who[j]][pos]);
		if (used + len >= GK_PLATE_MAX)
			return -1;
		memcpy(plate + used, ch[j], len);
		used += len;
		plate[used] = '\0';
		if (total > 0 && best / total < minshare)
			minshare = best / total;
	}

	if (gk_plate_check(plate, GK_PLATE_COLOUR_UNKNOWN, 0, NULL, NULL) == -1) {
		/* Voting mixed two shapes: trust the most confident read whole. */
		for (i = 0; i < l->nslots; i++)
			if (l->slots[i].ok && l->slots[i].nchars == n && (bi == -1 ||
			    l->slots[i].r.confidence > l->slots[bi].r.confidence))
				bi = i;
		gk_strlcpy(plate, l->slots[bi].norm, GK_PLATE_MAX);
		total = best = 0;
		for (i = 0; i < l->nslots; i++)
			if (l->slots[i].ok && l->slots[i].nchars == n) {
				total += clamp01(l->slots[i].r.confidence);
				if (strcmp(l->slots[i].norm, plate) == 0)
					best += clamp01(l->slots[i].r.confidence);
			}
		minshare = total > 0 ? best / total : 1;
	}
	for (i = 0; i < l->nslots; i++) {
		const struct fuse_slot *s = &l->slots[i];
		double	 c = clamp01(s->r.confidence);

		if (!s->ok || s->nchars != n)
			continue;
		wsum += c;
		csum += c * c;
		if (strcmp(s->norm, plate) == 0 && c > maxeq)
			maxeq = c;
	}
	if (maxeq < 0)
		maxeq = wsum > 0 ? csum / wsum : 0;
	*conf = clamp01(maxeq * minshare);
	return 0;
}

static void
close_window(struct fuse_lane *l, const struct fuse_params *p, int64_t now_ms,
    int early, struct fuse_passage *out)
{
	double	 cweight[GK_PLATE_COLOUR_COUNT] = { 0 };
	int	 i, c, best = GK_PLATE_COLOUR_UNKNOWN;
	int	 bi = -1;

	memset(out, 0, sizeof(*out));
	out->reads = l->reads;
	out->opened_ms = l->opened_ms;
	out->closed_ms = now_ms;
	out->early = early;
	gk_strlcpy(out->trigger_id, l->trigger_id, sizeof(out->trigger_id));
	out->first_wall_ms = l->nslots > 0 ? l->slots[0].r.wall_ms : 0;
	for (i = 0; i < l->nslots; i++) {
		gk_strlcpy(out->read_ids[out->nids++], l->slots[i].r.event_id,
		    GK_ID_LEN);
		add_frame(out, l->slots[i].r.frame_sha256);
		if (l->slots[i].r.wall_ms < out->first_wall_ms)
			out->first_wall_ms = l->slots[i].r.wall_ms;
		c = (int)l->slots[i].r.colour;
		if (c > GK_PLATE_COLOUR_UNKNOWN && c < GK_PLATE_COLOUR_COUNT)
			cweight[c] += clamp01(l->slots[i].r.confidence) + 1e-9;
	}
	for (c = 1; c < GK_PLATE_COLOUR_COUNT; c++)
		if (cweight[c] > cweight[best])
			best = c;
	out->colour = (enum gk_plate_colour)best;

	if (vote(l, out->plate, &out->confidence) == 0) {
		out->plate_ok = gk_plate_check(out->plate, out->colour, 0, &out->info,
		    NULL) == 0;
	} else {
		for (i = 0; i < l->nslots; i++)
			if (l->slots[i].norm[0] != '\0' && (bi == -1 ||
			    l->slots[i].r.confidence > l->slots[bi].r.confidence))
				bi = i;
		gk_strlcpy(out->plate, bi == -1 ? "?" : l->slots[bi].norm,
		    sizeof(out->plate));
		out->confidence = bi == -1 ? 0 : clamp01(l->slots[bi].r.confidence);
		out->plate_ok = 0;
	}

	/* The vehicle may stand there a while: hold its plate. */
	gk_strlcpy(l->held_plate, out->plate, sizeof(l->held_plate));
	gk_strlcpy(l->held_trigger, l->trigger_id, sizeof(l->held_trigger));
	l->hold_until_ms = now_ms + p->hold_ms;
	if (l->hold_until_ms == 0)
		l->hold_until_ms = 1;
	l->state = FUSE_IDLE;
	l->nslots = 0;
	l->reads = 0;
	l->trigger_id[0] = '\0';
}

enum fuse_rc
fuse_tick(struct fuse_lane *l, const struct fuse_params *p, int64_t now_ms,
    struct fuse_passage *out)
{
	if (l->state == FUSE_OPEN && now_ms >= l->opened_ms + p->window_ms) {
		close_window(l, p, l->opened_ms + p->window_ms, 0, out);
		return FUSE_CLOSED;
	}
	if (l->state == FUSE_IDLE && l->hold_until_ms > 0 &&
	    now_ms >= l->hold_until_ms)
		fuse_trigger(l);
	return FUSE_NOTHING;
}

enum fuse_rc
fuse_offer(struct fuse_lane *l, const struct fuse_params *p,
    const struct fuse_read *r, int64_t now_ms, struct fuse_passage *out)
{
	struct fuse_slot	 s;
	int			 closed = 0, i, agree;

	if (fuse_tick(l, p, now_ms, out) == FUSE_CLOSED)
		closed = 1;
	/* A new trigger while a window is open: the vehicle left, another came. */
	if (l->state == FUSE_OPEN && r->trigger_id[0] != '\0' &&
	    l->trigger_id[0] != '\0' && strcmp(r->trigger_id, l->trigger_id) != 0 &&
	    !closed) {
		close_window(l, p, now_ms, 0, out);
		closed = 1;
	}
	if (l->state == FUSE_OPEN)
		for (i = 0; i < l->nslots; i++)
			if (strcmp(l->slots[i].r.event_id, r->event_id) == 0)
				return closed ? FUSE_CLOSED : FUSE_DUPLICATE;

	slot_fill(&s, r);
	if (l->hold_until_ms > 0 && now_ms < l->hold_until_ms &&
	    !(r->trigger_id[0] != '\0' && strcmp(r->trigger_id, l->held_trigger) != 0) &&
	    same_vehicle(s.norm[0] != '\0' ? s.norm : "?", l->held_plate))
		return closed ? FUSE_CLOSED : FUSE_SUPPRESSED;

	if (l->state == FUSE_IDLE) {
		l->state = FUSE_OPEN;
		l->opened_ms = now_ms;
		l->nslots = 0;
		l->reads = 0;
		l->trigger_id[0] = '\0';
	}
	l->reads++;
	if (l->trigger_id[0] == '\0')
		gk_strlcpy(l->trigger_id, r->trigger_id, sizeof(l->trigger_id));
	if (l->nslots < FUSE_READS_MAX)
		l->slots[l->nslots++] = s;
	if (closed)
		return FUSE_CLOSED;

	/* Close early once enough confident reads agree with this one. */
	if (s.ok && clamp01(r->confidence) >= p->early_conf) {
		agree = 0;
		for (i = 0; i < l->nslots; i++)
			if (l->slots[i].ok && strcmp(l->slots[i].norm, s.norm) == 0 &&
			    clamp01(l->slots[i].r.confidence) >= p->early_conf)
				agree++;
		if (agree >= p->early_reads) {
			close_window(l, p, now_ms, 1, out);
			return FUSE_CLOSED;
		}
	}
	return FUSE_ABSORBED;
}
