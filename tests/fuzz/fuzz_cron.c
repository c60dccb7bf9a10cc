/*
 * fuzz_cron.c - libFuzzer target: schedule lines (cron_parse_list and
 * cron_parse), and for every accepted line the next fire times, checked
 * against what cron_next promises: later than `after', and reached
 * again from one second before it.
 */
#include "zb-build.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const struct cron_sched *s, const struct cron_tz *tz)
{
	/* 2026-03-28, 2026-10-24 (both before a DST change), 2096-02-28 */
	static const time_t	 from[] = { 1774656000, 1792800000,
	    3981225600 };
	time_t			 t, u;
	size_t			 i;
	int			 k;

	for (i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		t = from[i];
		for (k = 0; k < 4; k++) {
			u = cron_next(s, t, tz);
			if (u == -1)
				break;
			if (u <= t)
				abort();	/* not strictly after */
			if (s->every == 0 && cron_next(s, u - 1, tz) != u)
				abort();	/* skipped from just before */
			if (!cron_missed(s, t, u, tz) ||
			    cron_missed(s, t, u - 1, tz))
				abort();
			t = u;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cron_tz	*ams, *fixed;
	struct cron_sched	*v, one;
	char			*line, err[256];
	size_t			 n, i;

	if (ams == NULL)
		ams = cron_tz_load("Europe/Amsterdam", err, sizeof(err));
	if (fixed == NULL)
		fixed = cron_tz_load("-05:30", err, sizeof(err));
	if (size > 4096)
		return 0;
	line = malloc(size + 1);
	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (cron_parse_list(line, &v, &n, err, sizeof(err)) == 0) {
		for (i = 0; i < n; i++) {
			check(&v[i], NULL);
			if (ams != NULL)
				check(&v[i], ams);
			if (fixed != NULL)
				check(&v[i], fixed);
		}
		free(v);
	}
	if (cron_parse(line, &one, err, sizeof(err)) == 0)
		check(&one, NULL);
	free(line);
	return 0;
}
