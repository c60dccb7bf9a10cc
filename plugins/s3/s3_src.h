/*
 * s3_src.h - the `s3' plugin as a source: whole buckets as tar streams.
 */
#ifndef ZB_S3_SRC_H
#define ZB_S3_SRC_H

#include <zentoria/plugin.h>

int	s3_src_plan(void *ctx, struct zb_io *run);
int	s3_src_open(void *ctx, struct zb_io *s,
	    const struct zb_producer_ops **ops, void **pctx);
int	s3_src_restore_open(void *ctx, struct zb_io *w,
	    const struct zb_restore_req *req,
	    const struct zb_writer_ops **ops, void **wctx);

#endif
