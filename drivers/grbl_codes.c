/*
 * Meanings of GRBL 1.1's error and alarm codes, worded for an operator's
 * screen. Indexed by code; gaps (18, 19) are NULL.
 */
#include "drivers/grbl_codes.h"

#include <stddef.h>

static const char *const error_text[] = {
	[1] = "Expected command letter",
	[2] = "Bad number format",
	[3] = "Invalid '$' statement",
	[4] = "Negative value",
	[5] = "Homing not enabled",
	[6] = "Step pulse must be at least 3 microseconds",
	[7] = "EEPROM read failed, defaults restored",
	[8] = "'$' command only valid when idle",
	[9] = "G-code locked out during alarm or jog",
	[10] = "Soft limits need homing enabled",
	[11] = "Line overflow (more than 79 characters)",
	[12] = "Step rate over 30 kHz",
	[13] = "Safety door open",
	[14] = "Build info or startup line too long",
	[15] = "Jog target exceeds machine travel",
	[16] = "Invalid jog command",
	[17] = "Laser mode needs PWM output",
	[20] = "Unsupported or invalid G-code command",
	[21] = "Two G-code commands from one modal group",
	[22] = "Feed rate undefined",
	[23] = "Command requires an integer value",
	[24] = "Two G-code commands both need axis words",
	[25] = "Repeated G-code word",
	[26] = "No axis words where the command needs them",
	[27] = "Invalid line number",
	[28] = "Missing value word",
	[29] = "G59.x work coordinate systems not supported",
	[30] = "G53 only allowed with G0 and G1",
	[31] = "Axis words not used by the command",
	[32] = "Arc has no axis word in the selected plane",
	[33] = "Invalid motion target",
	[34] = "Arc radius invalid",
	[35] = "Arc has no offset in the selected plane",
	[36] = "Unused value words",
	[37] = "G43.1 offset not on the tool length axis",
	[38] = "Tool number too large",
};

static const char *const alarm_text[] = {
	[1] = "Hard limit triggered; position lost, re-home",
	[2] = "Soft limit: target outside machine travel",
	[3] = "Reset while in motion; position lost, re-home",
	[4] = "Probe not in expected initial state",
	[5] = "Probe made no contact",
	[6] = "Homing failed: reset during cycle",
	[7] = "Homing failed: safety door opened",
	[8] = "Homing failed: pull-off did not clear the limit switch",
	[9] = "Homing failed: limit switch not found",
	[10] = "Homing failed: second dual-axis switch not found",
};

const char *
grbl_error_text(int code)
{
	if (code < 0 || (size_t)code >= sizeof(error_text) / sizeof(*error_text))
		return NULL;
	return error_text[code];
}

const char *
grbl_alarm_text(int code)
{
	if (code < 0 || (size_t)code >= sizeof(alarm_text) / sizeof(*alarm_text))
		return NULL;
	return alarm_text[code];
}

int
grbl_alarm_is_critical(int code)
{
	return code == GRBL_ALARM_HARD_LIMIT || code == GRBL_ALARM_SOFT_LIMIT;
}
