/*
 * fuzz_config.c - libFuzzer target: the INI reader and every check the
 * core makes before plugins are loaded (sections, keys, types, jobs,
 * schedules, checks, the time zone).
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zb_config	*cfg;

	log_init("fuzz", -1);	/* silent */
	cfg = config_load_buf("fuzz.ini", (const char *)data, size,
	    size > 0 && (data[0] & 1));
	config_unref(cfg);
	return 0;
}
