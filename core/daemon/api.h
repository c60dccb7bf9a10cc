/*
 * api.h - the control API (/v1/...) of the daemon, on httpd.c's server.
 */
#ifndef ZB_API_H
#define ZB_API_H

#include "config.h"

struct httpd;
struct sched;
struct api;

/*
 * Register /v1/... on h.  *cfgp is the daemon's current generation (read
 * at each request: a reload changes it); s its scheduler.
 */
struct api	*api_new(struct httpd *h, struct zb_config **cfgp,
		    struct sched *s);
void		 api_free(struct api *);

#endif
