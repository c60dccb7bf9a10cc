/*
 * progress.h - a progress line on a terminal (bytes, rate, ETA).
 */
#ifndef ZB_PROGRESS_H
#define ZB_PROGRESS_H

#include <stdint.h>

struct progress;

/*
 * Show "label: bytes [of total], rate, ETA" on stderr once a second while
 * stderr is a terminal; does nothing otherwise.  total 0: unknown.
 */
struct progress	*progress_start(const char *label, uint64_t total,
		    uint64_t (*bytes)(void *), void *arg);
void		 progress_stop(struct progress *);

#endif
