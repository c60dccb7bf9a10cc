/*
 * io.h - the host side of struct zb_io, the handle plugins get for every
 * asynchronous operation.
 *
 * Each kind of operation embeds a struct zb_io first and fills in the
 * callbacks that make sense for it; hostapi.c dispatches the plugin's
 * host->done/ready/push/... calls through them and reports a plugin bug
 * for a call that does not fit the operation.
 */
#ifndef ZB_IO_H
#define ZB_IO_H

#include "zentoria/plugin.h"

struct zb_io;
struct fact;

struct io_vtbl {
	const char *kind;	/* "stream", "writer", "list", ... */
	void	(*done)(struct zb_io *, int status, const char *msg);
	void	(*ready)(struct zb_io *);
	int	(*push)(struct zb_io *, const void *, size_t);
	int	(*add_stream)(struct zb_io *, const char *, const char *);
	void	(*list_add)(struct zb_io *, const struct zb_list_entry *);
	void	(*pending_add)(struct zb_io *,
		    const struct zb_pending_entry *);
	void	(*fact)(struct zb_io *, const char *group, const char *key,
		    const char *str, int64_t num, int is_num);
	const char *(*stream_name)(const struct zb_io *);
	const char *(*artifact_id)(const struct zb_io *);
	/* The manifest facts a restore writer may read. */
	const struct fact *(*facts)(const struct zb_io *);
	/* A put's size known up front (-1: not known) and, from commit on,
	 * the SHA-256 of its bytes (ABI 1.6). */
	int64_t	(*put_size)(const struct zb_io *);
	const char *(*put_sha256)(const struct zb_io *);
	/* The put's bytes as a file the caller owns, or -1 (ABI 1.7). */
	int	(*put_file)(const struct zb_io *);
	/* 1: the put need not appear whole at once (ABI 1.9). */
	int	(*put_in_place)(const struct zb_io *);
};

struct zb_io {
	const struct io_vtbl	*vt;
	struct zb_inst		*inst;	/* for messages; may be NULL */
};

/* Dispatch as a plugin's host->done() would (for core-made writers). */
void	io_done(struct zb_io *, int status, const char *msg);
int	io_push(struct zb_io *, const void *, size_t);

#endif
