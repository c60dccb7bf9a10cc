/*
 * s3_src.c - the `s3' plugin as a source (to be written).
 */
#include "zb-build.h"

#include "s3.h"
#include "s3_src.h"

int
s3_src_plan(void *ctx, struct zb_io *run)
{
	struct s3	*s3 = ctx;

	(void)run;
	s3_log(s3, ZB_LOG_ERROR, "bucket backup is not written yet");
	return ZB_ERR;
}

int
s3_src_open(void *ctx, struct zb_io *s, const struct zb_producer_ops **ops,
    void **pctx)
{
	(void)ctx;
	(void)s;
	(void)ops;
	(void)pctx;
	return ZB_ERR;
}

int
s3_src_restore_open(void *ctx, struct zb_io *w,
    const struct zb_restore_req *req, const struct zb_writer_ops **ops,
    void **wctx)
{
	(void)ctx;
	(void)w;
	(void)req;
	(void)ops;
	(void)wctx;
	return ZB_ERR;
}
