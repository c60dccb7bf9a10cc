/*
 * toolkit_fd.c - the fd producer and the fd writer of ABI 1.5 (a stream
 * read from, or written into, a non-blocking file descriptor with the
 * stream's backpressure).  STUB: to be implemented.
 */
#include "zb-build.h"

#include <stddef.h>

#include "io.h"
#include "log.h"
#include "toolkit.h"

int
toolkit_fd_producer(struct zb_io *s, const struct zb_fd_producer_spec *spec,
    const struct zb_producer_ops **ops, void **pctx)
{
	(void)s;
	(void)spec;
	(void)ops;
	(void)pctx;
	log_warnx("fd_producer: not implemented yet");
	return ZB_ERR;
}

int
toolkit_fd_writer(struct zb_io *w, const struct zb_fd_writer_spec *spec,
    const struct zb_writer_ops **ops, void **wctx)
{
	(void)w;
	(void)spec;
	(void)ops;
	(void)wctx;
	log_warnx("fd_writer: not implemented yet");
	return ZB_ERR;
}
