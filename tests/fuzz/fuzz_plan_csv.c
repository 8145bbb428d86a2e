/*
 * libFuzzer target for the CSV dot-plan reader: an operator's plan file is
 * the input that decides where a needle goes, so every byte of it must end
 * in either a plan that is safe to run or a clear error, never in a crash,
 * a leak or a plan that slipped past a check. The input goes through
 * plan_read_mem as "csv" (the text check, then plan_read_csv_mem) and on
 * through validation, toolpath and G-code with the checks of fuzz_plan.h.
 * Seeds: tests/fuzz/corpus/plan_csv/.
 */
#include "fuzz_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_plan_one(data, size, "csv");
}
