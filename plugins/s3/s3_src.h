/*
 * s3_src.h - the `s3' plugin as a source: whole buckets as tar streams.
 *
 * s3_src.c          plan (buckets, or ListBuckets for `all'), the
 *                   backup producer (ListObjectsV2 + streamed GETs into
 *                   a pax tar)
 * s3_src_restore.c  the restore writer (spool, check, PUT every member)
 */
#ifndef ZB_S3_SRC_H
#define ZB_S3_SRC_H

#include <locale.h>

#include <zentoria/plugin.h>

/* xattr names of the tar members (pax SCHILY.xattr / LIBARCHIVE.xattr). */
#define S3_SRC_XATTR_CTYPE	"user.s3.content-type"
#define S3_SRC_XATTR_META	"user.s3.meta."		/* + the name */
#define S3_SRC_XATTR_KEY	"user.s3.key"	/* when the name is not it */

int	s3_src_plan(void *ctx, struct zb_io *run);
int	s3_src_open(void *ctx, struct zb_io *s,
	    const struct zb_producer_ops **ops, void **pctx);
int	s3_src_restore_open(void *ctx, struct zb_io *w,
	    const struct zb_restore_req *req,
	    const struct zb_writer_ops **ops, void **wctx);

/* init of a source: `buckets' is `all' or bucket names.  ZB_OK/ZB_ERR. */
int	s3_src_check(const struct zb_host_api *, struct zb_inst *);
/* 1 for a bucket name S3 accepts today. */
int	s3_src_bucket_ok(const char *);
/* Control bytes of s (an object key in a message) become '?', in place. */
char	*s3_src_text(char *s);
/* A fresh C.UTF-8 LC_CTYPE locale (freelocale it), or (locale_t)0. */
locale_t s3_src_utf8(void);
/* Switch to loc (if any) for libarchive; returns what to switch back to. */
locale_t s3_src_enter(locale_t);
void	 s3_src_leave(locale_t);

#endif
