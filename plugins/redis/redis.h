/*
 * redis.h - the `redis' source plugin: shared types of its files.
 *
 *	redis.c		descriptor, options, init/fini, plan, restore
 *	redis_info.c	hiredis async queries: PING, INFO server/keyspace
 *	redis_sync.c	backup: facts, then the RDB over the replication
 *			protocol on a socket of our own
 *	redis_test.c	test restore: a throwaway redis-server on the RDB
 */
#ifndef ZB_REDIS_H
#define ZB_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <zentoria/plugin.h>

#define REDIS_MAX_DBS	65536	/* most databases an INFO may list */

/* One configured [source:NAME]. */
struct redis {
	const struct zb_host_api *host;
	struct zb_inst		*inst;
	const char		*addr;		/* as configured, for messages */
	char			*node;		/* TCP: host name or address */
	char			*port;		/* TCP: port */
	const char		*path;		/* unix socket, or NULL */
	const char		*user;		/* ACL user, or NULL */
	char			*pass;		/* or NULL; wiped at fini */
	size_t			 passlen;
	uint64_t		 timeout_ms;	/* connect and idle timeout */
	const char		*server;	/* redis-server for tests */
};

/* Where a query connects: the configured server or a scratch one. */
struct redis_target {
	const char	*name;		/* for messages: "host:port", path */
	const char	*node, *port;	/* TCP, or */
	const char	*path;		/* unix socket */
	const char	*user, *pass;	/* AUTH, when pass is not NULL */
	size_t		 passlen;
	uint64_t	 timeout_ms;
};

struct redis_db {
	int		 db;
	int64_t		 keys;
	int64_t		 expires;
};

/* What PING, INFO server and INFO keyspace told. */
struct redis_info {
	char		 version[64];	/* redis_version, or "" */
	struct redis_db	*dbs;		/* in INFO order */
	size_t		 ndbs;
};

/* redis.c */
void	redis_target_of(const struct redis *, struct redis_target *);

/*
 * redis_info.c.  The callback runs once, on the loop, never from inside
 * info_start; status is ZB_OK (info valid during the call), ZB_RETRY (the
 * server is not there yet or still loading: worth asking again) or
 * ZB_ERR; err is a message for the last two.  info_cancel stops a query
 * without its callback.  The target is copied.
 */
struct info_query;
typedef void	(*info_cb)(void *, int, const char *,
		    const struct redis_info *);
struct info_query	*info_start(struct redis *,
			    const struct redis_target *, info_cb, void *);
void			 info_cancel(struct info_query *);
int			 info_parse(const char *, struct redis_info *);
void			 info_clear(struct redis_info *);

/* redis_sync.c: the backup stream. */
int	sync_open(struct redis *, struct zb_io *,
	    const struct zb_producer_ops **, void **);

/* redis_test.c: the test restore writer. */
int	test_open(struct redis *, struct zb_io *,
	    const struct zb_writer_ops **, void **);

#endif
