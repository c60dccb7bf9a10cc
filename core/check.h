/*
 * check.h - checks of the newest copies: verify, deep-verify,
 * test-restore (issue 9: the daemon's [check:NAME] sections and
 * `zentoria-backupctl check').
 */
#ifndef ZB_CHECK_H
#define ZB_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct age_keys;

/* The values are those of [check:NAME] kind (config.c stores them). */
enum check_kind {
	CHECK_VERIFY,		/* objects there with the manifest's sizes,
				   the sidecar agrees: cheap (lists, one
				   small read) */
	CHECK_DEEP_VERIFY,	/* every byte read back, both digests */
	CHECK_TEST_RESTORE	/* the source's scratch restore, compared
				   with the facts the backup recorded */
};

struct check_params {
	enum check_kind		 kind;
	const char *const	*jobs;		/* [job:NAME]s */
	size_t			 njobs;		/* 0: every job */
	const char *const	*sinks;		/* [sink:NAME]s */
	size_t			 nsinks;	/* 0: every sink */
	/* For encrypted copies (deep-verify, test-restore); NULL: none */
	const struct age_keys	*identities;
};

/*
 * One copy checked: the newest complete copy of a stream on a sink.  A
 * job's source with no complete copy on one of the job's selected sinks
 * is a failed item too (id "source:NAME"), and so is a catalog that could
 * not be read completely (id "catalog", sink "*").
 */
struct check_item {
	const char	*id, *sink;
	int		 ok;
	char		*error;		/* NULL when ok */
	uint64_t	 duration_ms;
	uint64_t	 restore_ms;	/* the read (test-restore: the measured
					   restore time); 0 for verify */
};

struct check_result {
	struct check_item	*items;
	size_t			 n;
	unsigned		 failed;	/* items not ok */
	uint64_t		 duration_ms;
};

/* The result and everything it points to are freed after the callback. */
typedef void (*check_done_fn)(void *arg, const struct check_result *);

/*
 * Check the newest complete copy of every stream of the selected jobs'
 * sources on every selected sink the job writes to (catalog_newest: each
 * sink on its own; an interrupted newer run is skipped with a warning).
 * Copies are checked one at a time; each result is logged.  done is called
 * on the loop, never from inside this call.  Unknown job or sink names
 * are failed items.  The config must outlive the check.
 */
void	check_start(struct zb_config *, const struct check_params *,
	    check_done_fn, void *arg);

/* "verify", "deep-verify", "test-restore" */
const char	*check_kind_name(enum check_kind);
/* The kind named so; 0, or -1 for another name. */
int		 check_kind_parse(const char *, enum check_kind *);

#endif
