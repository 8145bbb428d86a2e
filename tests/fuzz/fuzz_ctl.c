/*
 * libFuzzer target for the control-message validator, ctl_parse(): the one
 * function every byte a client sends goes through before the daemon acts.
 * Besides "no crash, no leak, no undefined behaviour" (the sanitizers), it
 * checks the validator's own promises: an accepted request is an object
 * with a known command, re-encoding it yields a request that is accepted
 * again as the same command, and a rejected one always carries an error
 * code and a message. Seeds: tests/fuzz/corpus/ctl/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ctl.h"

#define FUZZ_MAX_BYTES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_parsed p, q;
	char *text;

	if (ctl_parse(data, size, FUZZ_MAX_BYTES, &p) != 0) {
		if (p.code == NULL || p.message[0] == '\0' || p.req != NULL)
			abort();
		ctl_parsed_clear(&p);
		return 0;
	}
	if (p.code != NULL || !json_is_object(p.req) || p.id == NULL ||
	    (int)p.cmd < 0 || p.cmd >= CTL_CMD_COUNT ||
	    strcmp(ctl_cmd_name(p.cmd), json_string_value(json_object_get(
	    p.req, "cmd"))) != 0)
		abort();
	text = json_dumps(p.req, JSON_COMPACT);
	if (text == NULL)
		abort();
	/* Re-encoding can grow (escapes), so no size bound the second time. */
	if (ctl_parse(text, strlen(text), (size_t)-1, &q) != 0 ||
	    q.cmd != p.cmd || !json_equal(q.id, p.id))
		abort();
	ctl_parsed_clear(&q);
	free(text);
	ctl_parsed_clear(&p);
	return 0;
}
