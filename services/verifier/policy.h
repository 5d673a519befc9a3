/*
 * The admission policy, as data: the heavy-pollution alert level in force and, per
 * level and vehicle class, the minimum emission stage a vehicle needs to enter; what to
 * do with unknown vehicles and unknown stages; the confidence below which a fused plate
 * goes to the operator; the lanes and their direction; the fusion parameters. It
 * arrives as the retained ecogate/v1/{site}/config/policy message
 * (schemas/policy.v1.schema.json) and replaces the policy in force without a restart;
 * a document that fails here is refused with a reason and the old policy stays.
 *
 * Emission stages are ordered X < 0 < 1 < ... < 6 < D: X (no stage, machinery
 * without one) is below everything, D (electric) above everything, so a minimum of X
 * admits all and a minimum of D only electric vehicles.
 *
 * policy_default() is a sensible default (see policy.c), not a rule of any city:
 * every plant is expected to load its own.
 *
 * Pure: no I/O, no allocation, no global state.
 */
#ifndef VERIFIER_POLICY_H
#define VERIFIER_POLICY_H

#include <stddef.h>

#include "fuse.h"
#include "registry.h"

#define POLICY_VERSION_MAX	65	/* 64 characters and the NUL */
#define POLICY_LANE_ID_MAX	33	/* a topic segment: 32 characters */
#define POLICY_LANES_MAX	32
#define POLICY_DOC_MAX		(64 * 1024)

/* Heavy-pollution alert levels, mildest first. */
enum policy_level {
	POLICY_LEVEL_NONE = 0,
	POLICY_LEVEL_BLUE,		/* 蓝: advisory */
	POLICY_LEVEL_YELLOW,		/* 黄: Ⅲ级 */
	POLICY_LEVEL_ORANGE,		/* 橙: Ⅱ级 */
	POLICY_LEVEL_RED,		/* 红: Ⅰ级 */
	POLICY_LEVEL_COUNT
};

/* Vehicle classes the rules are written for (see policy_classify()). */
enum policy_class {
	POLICY_CLASS_HEAVY_DIESEL = 0,
	POLICY_CLASS_LIGHT_TRUCK,
	POLICY_CLASS_GAS_TRUCK,
	POLICY_CLASS_NEW_ENERGY,
	POLICY_CLASS_PASSENGER,
	POLICY_CLASS_NRMM,
	POLICY_CLASS_OWN_FLEET,
	POLICY_CLASS_COUNT
};

/* What to do when the policy cannot decide on facts: stop, or ask the operator. */
enum policy_action {
	POLICY_DENY = 0,
	POLICY_REVIEW
};

enum policy_direction {
	POLICY_DIR_IN = 0,
	POLICY_DIR_OUT
};

struct policy_lane {
	char			id[POLICY_LANE_ID_MAX];
	enum policy_direction	direction;
	int			check_exit;	/* out lanes: apply the rules too */
};

struct policy {
	char			version[POLICY_VERSION_MAX];
	enum policy_level	level;
	/* Minimum emission stage, '0'..'6', 'D' or 'X', per level and class. */
	char			min_stage[POLICY_LEVEL_COUNT][POLICY_CLASS_COUNT];
	enum policy_action	unknown_vehicle;
	enum policy_action	unknown_stage;
	double			review_below;	/* fused confidence below: review */
	int			nlanes;
	struct policy_lane	lanes[POLICY_LANES_MAX];
	struct fuse_params	fusion;
};

/*
 * Fills *p with the built-in default (version "default", level none, the table in
 * policy.c, unknown vehicles and stages to review, review below 0.8, no lanes, fusion
 * defaults from fuse_params_default()).
 */
void	policy_default(struct policy *p);

/*
 * Parses a policy.v1 document (len bytes at buf) into *p. Returns 0, or -1 with err
 * naming the field and the problem; *p is then untouched, so the caller keeps the
 * policy in force.
 */
int	policy_parse(const char *buf, size_t len, struct policy *p, char *err,
	    size_t errlen);

/*
 * Parses an alert level: "none", "blue", "yellow", "orange", "red", or Chinese
 * "无", "蓝", "黄", "橙", "红" with or without "色". 0 or -1.
 */
int	policy_level_parse(const char *s, enum policy_level *level);

/* "orange"; "?" out of range.  policy_level_zh: "橙色预警", "无预警". */
const char *policy_level_name(enum policy_level level);
const char *policy_level_zh(enum policy_level level);

/* "heavy_diesel"...; "?" out of range. Parse: 0 or -1. */
const char *policy_class_name(enum policy_class c);
int	policy_class_parse(const char *s, enum policy_class *c);

/*
 * Rank of an emission stage in the order X < 0 < ... < 6 < D (X is 0, D is 8), or -1
 * when c is not a stage.
 */
int	policy_stage_rank(char c);

/*
 * The class a registered vehicle's rules come from, first match wins:
 *  1. category own_fleet                                      -> own_fleet
 *  2. category nrmm, or vehicle type J.. (machinery)          -> nrmm
 *  3. fuel C (electric), stage D, or a new-energy plate (D/F) -> new_energy
 *  4. vehicle type K.. (passenger)                            -> passenger
 *  5. fuel E (natural gas) or F (LPG)                         -> gas_truck
 *  6. vehicle type H3x, H4x (light, mini truck)               -> light_truck
 *  7. anything else: H1x, H2x, Q1x, B1x, Z.., unknown type    -> heavy_diesel
 * Rule 7 is deliberately the strictest transport class: a gap in the registry never
 * loosens the rules. plate may be NULL (then rule 3 looks at fuel and stage only).
 */
enum policy_class policy_classify(const struct vehicle *v,
	    const struct gk_plate_info *plate);

/* The lane named id, or NULL when the policy does not list it. Borrowed. */
const struct policy_lane *policy_lane(const struct policy *p, const char *id);

#endif
