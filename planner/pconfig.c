/*
 * The planner's configuration: built-in defaults equal to etc/smpd.conf, and
 * the `machine`, `needle` and `planner` groups read with libconfig. These
 * values bound where a needle may go, so a key the planner does not know in
 * its groups is an error (a misspelt max_depth_mm must not silently fall back
 * to the default), as is a wrong type or an out-of-range value; the other
 * groups belong to the daemon and are left to it.
 */
#include <libconfig.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "planner/pconfig.h"

/* Longest needle.on_gcode/off_gcode: 79 characters less "N9999999". */
#define GCODE_CUSTOM_MAX 71

void
pconfig_defaults(struct planner_config *c)
{
	memset(c, 0, sizeof(*c));
	c->env_min_mm[0] = -60; c->env_min_mm[1] = -80; c->env_min_mm[2] = -20;
	c->env_max_mm[0] = 60; c->env_max_mm[1] = 80; c->env_max_mm[2] = 20;
	c->max_rate_mm_min[0] = c->max_rate_mm_min[1] = 3000;
	c->max_rate_mm_min[2] = 1500;
	c->accel_mm_s2[0] = c->accel_mm_s2[1] = 500;
	c->accel_mm_s2[2] = 800;
	c->junction_deviation_mm = 0.01;
	c->planner_blocks = 15;
	c->clearance_mm = 1.0;
	c->max_depth_mm = 1.5;
	c->min_depth_mm = 0.05;
	c->plunge_feed_mm_min = 600;
	c->retract_feed_mm_min = 0;
	c->default_dwell_ms = 50;
	c->default_depth_mm = 0;
	c->skin_z_mm = 0;
	c->heightmap_path[0] = '\0';
	c->actuator = ACTUATOR_SPINDLE;
	c->spindle_s = 1000;
	c->min_spacing_mm = 0.2;
	c->spacing = SPACING_REJECT;
	c->max_dots = 1000000;
	c->seed = 1;
	c->order_time_budget_s = 0;
	c->line_numbers = false;
	c->max_diags = 50;
}

enum ktype { K_NUM, K_INT, K_BOOL, K_STR, K_VEC3 };

struct key {
	const char *group, *name;
	enum ktype type;
	double lo, hi;     /* K_NUM / K_INT / K_VEC3 range, inclusive */
};

static const struct key keys[] = {
	{ "machine", "envelope_min", K_VEC3, -10000, 10000 },
	{ "machine", "envelope_max", K_VEC3, -10000, 10000 },
	{ "machine", "max_rate_mm_min", K_VEC3, 1, 100000 },
	{ "machine", "accel_mm_s2", K_VEC3, 1, 100000 },
	{ "machine", "junction_deviation_mm", K_NUM, 0, 10 },
	{ "machine", "planner_blocks", K_INT, 1, 1000 },
	{ "needle", "clearance_mm", K_NUM, 0.05, 50 },
	{ "needle", "max_depth_mm", K_NUM, 0.01, 10 },
	{ "needle", "min_depth_mm", K_NUM, 0.001, 10 },
	{ "needle", "plunge_feed_mm_min", K_NUM, 1, 100000 },
	{ "needle", "retract_feed_mm_min", K_NUM, 0, 100000 },
	{ "needle", "default_dwell_ms", K_INT, 0, 60000 },
	{ "needle", "default_depth_mm", K_NUM, 0, 10 },
	{ "needle", "skin_z_mm", K_NUM, -10000, 10000 },
	{ "needle", "heightmap", K_STR, 0, 0 },
	{ "needle", "actuator", K_STR, 0, 0 },
	{ "needle", "spindle_s", K_NUM, 0, 1e6 },
	{ "needle", "on_gcode", K_STR, 0, 0 },
	{ "needle", "off_gcode", K_STR, 0, 0 },
	{ "planner", "min_spacing_mm", K_NUM, 0, 100 },
	{ "planner", "spacing", K_STR, 0, 0 },
	{ "planner", "max_dots", K_INT, 1, 100000000 },
	{ "planner", "seed", K_INT, 0, 9.2e18 },
	{ "planner", "order_time_budget_s", K_NUM, 0, 3600 },
	{ "planner", "line_numbers", K_BOOL, 0, 0 },
	{ "planner", "max_diags", K_INT, 1, 100000 },
};

static double
setting_num(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return (double)config_setting_get_int64(s);
	default:
		return config_setting_get_float(s);
	}
}

static int
is_num(const config_setting_t *s)
{
	int t = config_setting_type(s);

	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 ||
	    t == CONFIG_TYPE_FLOAT;
}

/* Stores one validated key into cfg; -1 with a message. */
static int
apply(struct planner_config *c, const struct key *k,
    const config_setting_t *s, char *msg, size_t len)
{
	double v = 0, vec[3];
	const char *str = NULL;

	switch (k->type) {
	case K_NUM:
	case K_INT:
		if (!is_num(s) || (k->type == K_INT &&
		    config_setting_type(s) == CONFIG_TYPE_FLOAT)) {
			snprintf(msg, len, "%s.%s must be %s", k->group, k->name,
			    k->type == K_INT ? "an integer" : "a number");
			return -1;
		}
		v = setting_num(s);
		if (!isfinite(v) || v < k->lo || v > k->hi) {
			snprintf(msg, len, "%s.%s = %g is not in [%g, %g]",
			    k->group, k->name, v, k->lo, k->hi);
			return -1;
		}
		break;
	case K_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			snprintf(msg, len, "%s.%s must be true or false",
			    k->group, k->name);
			return -1;
		}
		break;
	case K_STR:
		str = config_setting_get_string(s);
		if (str == NULL) {
			snprintf(msg, len, "%s.%s must be a string", k->group,
			    k->name);
			return -1;
		}
		break;
	case K_VEC3:
		if ((config_setting_type(s) != CONFIG_TYPE_ARRAY &&
		    config_setting_type(s) != CONFIG_TYPE_LIST) ||
		    config_setting_length(s) != 3) {
			snprintf(msg, len, "%s.%s must be [x, y, z]", k->group,
			    k->name);
			return -1;
		}
		for (int i = 0; i < 3; i++) {
			const config_setting_t *e = config_setting_get_elem(s,
			    (unsigned)i);
			if (!is_num(e)) {
				snprintf(msg, len, "%s.%s[%d] must be a number",
				    k->group, k->name, i);
				return -1;
			}
			vec[i] = setting_num(e);
			if (!isfinite(vec[i]) || vec[i] < k->lo ||
			    vec[i] > k->hi) {
				snprintf(msg, len, "%s.%s[%d] = %g is not in "
				    "[%g, %g]", k->group, k->name, i, vec[i],
				    k->lo, k->hi);
				return -1;
			}
		}
		break;
	}
	/* Only string keys reach the string branches below, and they have
	 * str set; the others never read it. */
	if (str == NULL)
		str = "";
#define IS(n) (strcmp(k->name, n) == 0)
	if (IS("envelope_min")) memcpy(c->env_min_mm, vec, sizeof(vec));
	else if (IS("envelope_max")) memcpy(c->env_max_mm, vec, sizeof(vec));
	else if (IS("max_rate_mm_min")) memcpy(c->max_rate_mm_min, vec,
	    sizeof(vec));
	else if (IS("accel_mm_s2")) memcpy(c->accel_mm_s2, vec, sizeof(vec));
	else if (IS("junction_deviation_mm")) c->junction_deviation_mm = v;
	else if (IS("planner_blocks")) c->planner_blocks = (int)v;
	else if (IS("clearance_mm")) c->clearance_mm = v;
	else if (IS("max_depth_mm")) c->max_depth_mm = v;
	else if (IS("min_depth_mm")) c->min_depth_mm = v;
	else if (IS("plunge_feed_mm_min")) c->plunge_feed_mm_min = v;
	else if (IS("retract_feed_mm_min")) c->retract_feed_mm_min = v;
	else if (IS("default_dwell_ms")) c->default_dwell_ms = (uint32_t)v;
	else if (IS("default_depth_mm")) c->default_depth_mm = v;
	else if (IS("skin_z_mm")) c->skin_z_mm = v;
	else if (IS("spindle_s")) c->spindle_s = v;
	else if (IS("min_spacing_mm")) c->min_spacing_mm = v;
	else if (IS("max_dots")) c->max_dots = (size_t)v;
	else if (IS("seed")) c->seed = (uint64_t)config_setting_get_int64(s);
	else if (IS("order_time_budget_s")) c->order_time_budget_s = v;
	else if (IS("line_numbers")) c->line_numbers =
	    config_setting_get_bool(s);
	else if (IS("max_diags")) c->max_diags = (size_t)v;
	else if (IS("heightmap") || IS("on_gcode") || IS("off_gcode")) {
		char *dst = IS("heightmap") ? c->heightmap_path :
		    IS("on_gcode") ? c->on_gcode : c->off_gcode;
		size_t cap = IS("heightmap") ? sizeof(c->heightmap_path) :
		    sizeof(c->on_gcode);
		if (strlen(str) >= cap) {
			snprintf(msg, len, "%s.%s is longer than %zu characters",
			    k->group, k->name, cap - 1);
			return -1;
		}
		if (!IS("heightmap") && strpbrk(str, "\r\n") != NULL) {
			snprintf(msg, len, "%s.%s must be one line", k->group,
			    k->name);
			return -1;
		}
		/* GRBL acts on ? ! ~ and bytes >= 0x80 wherever they appear,
		 * even in a comment (feed hold, resume, overrides, spindle
		 * stop), and a $ line is a system command, not G-code: an
		 * actuator line must be plain G-code or it does something
		 * else than it says, the moment it is sent. */
		if (!IS("heightmap")) {
			/* with its N word (up to N9999999) the line must fit
			 * the 79 characters of a G-code line: the emitter
			 * would otherwise cut it, and a cut needle-off line
			 * is a different command */
			if (strlen(str) > GCODE_CUSTOM_MAX) {
				snprintf(msg, len, "%s.%s is longer than %d "
				    "characters", k->group, k->name,
				    GCODE_CUSTOM_MAX);
				return -1;
			}
			for (const char *q = str; *q != '\0'; q++) {
				unsigned char ch = (unsigned char)*q;
				if (ch < 0x20 || ch > 0x7e || ch == '?' ||
				    ch == '!' || ch == '~') {
					snprintf(msg, len, "%s.%s: character %d "
					    "(0x%02x) is a GRBL real-time command "
					    "or not printable", k->group,
					    k->name, (int)(q - str) + 1, ch);
					return -1;
				}
			}
			if (str[strspn(str, " \t")] == '$') {
				snprintf(msg, len, "%s.%s: a $ line is a GRBL "
				    "system command, not G-code", k->group,
				    k->name);
				return -1;
			}
		}
		memcpy(dst, str, strlen(str) + 1);
	} else if (IS("actuator")) {
		if (strcmp(str, "spindle") == 0) c->actuator = ACTUATOR_SPINDLE;
		else if (strcmp(str, "flood") == 0) c->actuator = ACTUATOR_FLOOD;
		else if (strcmp(str, "mist") == 0) c->actuator = ACTUATOR_MIST;
		else if (strcmp(str, "custom") == 0) c->actuator =
		    ACTUATOR_CUSTOM;
		else {
			snprintf(msg, len, "needle.actuator \"%s\" is not "
			    "spindle, flood, mist or custom", str);
			return -1;
		}
	} else if (IS("spacing")) {
		if (strcmp(str, "reject") == 0) c->spacing = SPACING_REJECT;
		else if (strcmp(str, "warn") == 0) c->spacing = SPACING_WARN;
		else {
			snprintf(msg, len, "planner.spacing \"%s\" is not "
			    "reject or warn", str);
			return -1;
		}
	}
#undef IS
	return 0;
}

int
pconfig_load(struct planner_config *cfg, const char *path, char *err,
    size_t errlen)
{
	static const char *groups[] = { "machine", "needle", "planner" };
	struct planner_config c = *cfg;
	config_t lc;
	char msg[200];
	int rc = -1;

	config_init(&lc);
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read the file", path);
		else
			snprintf(err, errlen, "%s:%d: %s", config_error_file(&lc)
			    ? config_error_file(&lc) : path,
			    config_error_line(&lc), config_error_text(&lc));
		goto fail;
	}
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		config_setting_t *grp = config_lookup(&lc, groups[g]);
		if (grp == NULL)
			continue;
		if (!config_setting_is_group(grp)) {
			snprintf(err, errlen, "%s:%u: %s must be a group", path,
			    config_setting_source_line(grp), groups[g]);
			goto fail;
		}
		for (int i = 0; i < config_setting_length(grp); i++) {
			config_setting_t *s = config_setting_get_elem(grp,
			    (unsigned)i);
			const char *name = config_setting_name(s);
			size_t k;
			for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
				if (strcmp(keys[k].group, groups[g]) == 0 &&
				    strcmp(keys[k].name, name) == 0)
					break;
			if (k == sizeof(keys) / sizeof(keys[0])) {
				snprintf(err, errlen, "%s:%u: unknown key "
				    "%s.%s", path, config_setting_source_line(s),
				    groups[g], name);
				goto fail;
			}
			if (apply(&c, &keys[k], s, msg, sizeof(msg)) < 0) {
				snprintf(err, errlen, "%s:%u: %s", path,
				    config_setting_source_line(s), msg);
				goto fail;
			}
		}
	}
	if (pconfig_check(&c, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		goto fail;
	}
	*cfg = c;
	rc = 0;
fail:
	config_destroy(&lc);
	return rc;
}

bool
pconfig_depth_ok(const struct planner_config *c, double depth_mm)
{
	return depth_mm >= c->min_depth_mm && depth_mm <= c->max_depth_mm;
}

int
pconfig_check(const struct planner_config *c, char *err, size_t errlen)
{
	for (int a = 0; a < 3; a++)
		if (!(c->env_min_mm[a] < c->env_max_mm[a])) {
			snprintf(err, errlen, "machine.envelope_min[%d] %g is "
			    "not below envelope_max[%d] %g", a, c->env_min_mm[a],
			    a, c->env_max_mm[a]);
			return -1;
		}
	if (!(c->max_depth_mm > 0) || !(c->clearance_mm > 0) ||
	    !(c->plunge_feed_mm_min > 0)) {
		snprintf(err, errlen, "needle: max_depth_mm, clearance_mm and "
		    "plunge_feed_mm_min must be > 0");
		return -1;
	}
	/* A depth under one G-code step (1 um) would put the bottom of the
	 * stroke on the skin itself once rounded to 3 decimals. */
	if (!(c->min_depth_mm >= 0.001) ||
	    !(c->min_depth_mm <= c->max_depth_mm)) {
		snprintf(err, errlen, "needle.min_depth_mm %g is not in "
		    "[0.001, max_depth_mm %g]", c->min_depth_mm,
		    c->max_depth_mm);
		return -1;
	}
	if (c->default_depth_mm != 0 &&
	    !pconfig_depth_ok(c, c->default_depth_mm)) {
		snprintf(err, errlen, "needle.default_depth_mm %g is not 0 "
		    "and not in [min_depth_mm %g, max_depth_mm %g]",
		    c->default_depth_mm, c->min_depth_mm, c->max_depth_mm);
		return -1;
	}
	if (c->actuator == ACTUATOR_CUSTOM && (c->on_gcode[0] == '\0' ||
	    c->off_gcode[0] == '\0')) {
		snprintf(err, errlen, "needle.actuator = \"custom\" needs "
		    "on_gcode and off_gcode");
		return -1;
	}
	if (c->max_diags == 0 || c->max_dots == 0 || c->planner_blocks < 1) {
		snprintf(err, errlen, "planner.max_diags, max_dots and "
		    "machine.planner_blocks must be >= 1");
		return -1;
	}
	return 0;
}
