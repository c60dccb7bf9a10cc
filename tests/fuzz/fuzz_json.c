/*
 * fuzz_json.c - libFuzzer target: the JSON reader and the manifest checks
 * applied to anything read back from a sink.
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>

#include "artifact.h"
#include "json.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct artifact	 a;
	const char	*err;

	log_init("fuzz", -1);
	if (manifest_parse((const char *)data, size, &a, &err) == 0)
		artifact_clear(&a);
	return 0;
}
