/*
 * The gate decision: a fused passage, the registry's record of the plate (or none),
 * the policy in force and the lane become allow, deny or review, with machine reason
 * codes, the LED's Chinese lines and the facts an inspector needs (policy version,
 * alert level, vehicle facts, registry source and age). decide_render() writes it as a
 * passage-decision.v1 message.
 *
 * The rules, first match wins (the first reason code names it):
 *   exit lane without check_exit          allow   exit_lane
 *   fused plate not legal in its colour   review  invalid_plate
 *   fused confidence < review_below       review  low_confidence
 *   blacklist entry in force              deny    blacklist
 *   whitelist entry in force              allow   whitelist
 *   exemption in force                    allow   exempt (+ exempt.<kind>)
 *   no registered vehicle                 policy  unknown_vehicle (deny or review)
 *   minimum stage for level x class is X  allow   no_restriction
 *   stage not recorded                    policy  stage_unknown (deny or review)
 *   stage below the minimum               deny    stage_below_min
 *   otherwise                             allow   stage_ok
 * Context codes follow: exemption_expired (a list entry exists but is not in force),
 * lane.unknown (the lane is not in the policy: treated as an entry lane),
 * class.<class>, alert.<level>, registry.<source>.
 * Low confidence and an illegal plate come before the lists on purpose: a misread
 * plate could hit another vehicle's whitelist entry.
 *
 * Pure: no I/O, no allocation (decide_render() returns a new string).
 */
#ifndef VERIFIER_DECIDE_H
#define VERIFIER_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "fuse.h"
#include "policy.h"
#include "registry.h"

#define DECIDE_REASONS_MAX	16
#define DECIDE_REASON_MAX	65
#define DECIDE_LINES_MAX	4
#define DECIDE_LINE_MAX		(32 * 4 + 1)	/* 32 characters of UTF-8 */

enum decide_result {
	DECIDE_ALLOW = 0,
	DECIDE_DENY,
	DECIDE_REVIEW
};

/* Everything a decision is made from; all borrowed. */
struct decide_input {
	const struct fuse_passage *passage;
	const struct vehicle	*vehicle;	/* NULL: the registry has no record */
	enum registry_source	 source;	/* which registry answered */
	int64_t			 registry_age_ms;
	const struct policy	*policy;
	const char		*lane;
	int64_t			 now_wall_ms;	/* list entries' validity */
};

/* The vehicle facts a decision carries (copied: the decision outlives the record). */
struct decide_facts {
	char			 emission_stage;	/* 0: unknown */
	enum registry_stage_source stage_source;
	char			 fuel;
	char			 vehicle_type[4];
	enum registry_category	 category;
	char			 fleet[REGISTRY_TEXT_MAX];
	char			 registration_date[11];
	char			 vin[18];
};

struct decision {
	enum decide_result	 result;
	int			 nreasons;
	char			 reasons[DECIDE_REASONS_MAX][DECIDE_REASON_MAX];
	int			 nlines;
	char			 lines[DECIDE_LINES_MAX][DECIDE_LINE_MAX];
	char			 plate[GK_PLATE_MAX];
	enum gk_plate_colour	 colour;
	double			 confidence;
	enum policy_direction	 direction;
	enum policy_level	 level;
	char			 policy_version[POLICY_VERSION_MAX];
	int			 has_class;	/* a registered vehicle was classed */
	enum policy_class	 cls;
	char			 min_stage;	/* for cls at level; 0 without class */
	int			 has_vehicle;	/* facts are from a registered vehicle */
	struct decide_facts	 facts;
	enum registry_source	 source;
	int64_t			 registry_age_ms;
};

/* Decides one passage into *d (see the table above). Never fails. */
void	decide(const struct decide_input *in, struct decision *d);

/* 1 when d carries reason code (primary or context), else 0. */
int	decide_has_reason(const struct decision *d, const char *code);

/* "allow", "deny", "review"; "?" out of range. */
const char *decide_result_name(enum decide_result r);

/*
 * "国五", "电动" (D), "无" (X), "未知" (0 or anything else): the LED's name of a stage.
 */
const char *decide_stage_zh(char stage);

/*
 * Renders d as a passage-decision.v1 JSON message for the passage p: event_id (a
 * lowercase UUID), site and lane (topic ids), first read and decision times in epoch
 * milliseconds. Returns a new NUL-terminated string (caller free()s it), or NULL with
 * err saying which argument cannot be rendered (bad id, plate over 16 characters, no
 * read ids).
 */
char	*decide_render(const struct decision *d, const struct fuse_passage *p,
	    const char *event_id, const char *site, const char *lane,
	    int64_t first_read_ms, int64_t decided_ms, char *err, size_t errlen);

#endif
