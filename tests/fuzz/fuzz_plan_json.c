/*
 * libFuzzer target for the JSON dot-plan reader (plan_read_mem as "json":
 * the text check, then jansson and plan_read_json_mem), followed through
 * validation, toolpath and G-code with the checks of fuzz_plan.h. The
 * dictionary tests/fuzz/corpus/plan_json-dict/plan_json.dict gives the
 * fuzzer the member names it would otherwise take long to guess.
 * Seeds: tests/fuzz/corpus/plan_json/.
 */
#include "fuzz_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_plan_one(data, size, "json");
}
