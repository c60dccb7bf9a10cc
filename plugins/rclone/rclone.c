/*
 * rclone.c - the `rclone' sink: its options, the configuration checks
 * (the remote's syntax, rclone_config's permissions and its remote
 * section, the rclone binary, OneDrive's chunk size), the instance's
 * life (refcounted: a child killed by an abort may exit after fini), the
 * upload slots of max_uploads, and the descriptor.  The operations live
 * in rclone_put.c, rclone_get.c and rclone_list.c; running rclone in
 * rclone_run.c.
 */
#include "zb-build.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rclone.h"

extern char **environ;

static const struct zb_option rclone_options[] = {
	{ "remote", ZB_OPT_STRING, NULL, 1,
	    "rclone remote and path the artifacts are stored under "
	    "(NAME:PATH)", 0, 0 },
	{ "rclone_config", ZB_OPT_PATH, NULL, 1,
	    "rclone.conf naming the remote (mode 0600: refused if group or "
	    "others can read it)", 0, 0 },
	{ "rclone", ZB_OPT_STRING, "rclone", 0,
	    "the rclone binary (default: found in PATH)", 0, 0 },
	{ "rclone_config_pass", ZB_OPT_SECRET, NULL, 0,
	    "password of an encrypted rclone_config (RCLONE_CONFIG_PASS)",
	    0, 0 },
	{ "max_uploads", ZB_OPT_INT, "4", 0,
	    "rclone uploads (rcat children) this sink runs at once", 1, 64 },
	{ "onedrive_chunk_size", ZB_OPT_SIZE, "0", 0,
	    "OneDrive upload fragment (--onedrive-chunk-size), a multiple of "
	    "320k below 60M; 0: rclone's default (10M)", 0,
	    60LL * 1024 * 1024 - 1 },
	{ "temp_dir", ZB_OPT_PATH, NULL, 0,
	    "where rclone spools a stream for remotes that cannot take one "
	    "of unknown size (OneDrive): --temp-dir", 0, 0 },
	{ "bwlimit", ZB_OPT_STRING, NULL, 0,
	    "rclone --bwlimit (e.g. 10M, or a timetable)", 0, 0 },
	{ "rclone_log_level", ZB_OPT_STRING, "NOTICE", 0,
	    "rclone's --log-level: NOTICE, INFO or DEBUG", 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 }
};

/* ---- configuration checks ------------------------------------------------ */

/*
 * NAME:PATH, :BACKEND:PATH; never a connection string (NAME,key=value:),
 * whose parameters (a password) would be in argv and in our logs.
 */
static int
check_remote(struct rclone *rc, const char *remote, char *name,
    size_t namelen)
{
	const char	*colon;
	size_t		 n;

	colon = strchr(remote + (remote[0] == ':'), ':');
	if (colon == NULL)
		return rc->host->cfg_error(rc->inst, "remote", "'%s' is not an "
		    "rclone remote (expected NAME:PATH)", remote);
	n = (size_t)(colon - remote);
	if (memchr(remote, ',', n) != NULL)
		return rc->host->cfg_error(rc->inst, "remote", "connection "
		    "string parameters (NAME,key=value:) are refused: they "
		    "would be in rclone's argv; put them in rclone_config");
	if (strpbrk(remote, "\n\r") != NULL || remote[0] == '-')
		return rc->host->cfg_error(rc->inst, "remote", "bad remote");
	if (remote[0] == ':' || n >= namelen)
		name[0] = '\0';		/* on the fly: no section */
	else {
		memcpy(name, remote, n);
		name[n] = '\0';
	}
	return ZB_OK;
}

/*
 * Private, readable, and (unless encrypted) has a [NAME] section.  *enc
 * is set for an encrypted file.
 */
static int
check_config(struct rclone *rc, const char *path, const char *name,
    int *enc)
{
	struct stat	 st;
	FILE		*f;
	char		 line[1024], want[300];
	int		 found = 0, fd;

	*enc = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return rc->host->cfg_error(rc->inst, "rclone_config", "%s: %s",
		    path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rc->host->cfg_error(rc->inst, "rclone_config", "%s is "
		    "not a regular file", path);
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		return rc->host->cfg_error(rc->inst, "rclone_config",
		    "refused: %s holds the remote's credentials and is "
		    "accessible by group or others (mode %04o; chmod 600 it)",
		    path,
		    (unsigned)(st.st_mode & 07777));
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return ZB_ERR;
	}
	snprintf(want, sizeof(want), "[%s]", name);
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "RCLONE_ENCRYPT_V0:", 18) == 0) {
			*enc = 1;
			break;
		}
		if (name[0] != '\0' && strcmp(line, want) == 0)
			found = 1;
	}
	fclose(f);
	if (!*enc && name[0] != '\0' && !found)
		return rc->host->cfg_error(rc->inst, "remote", "remote '%s' is "
		    "not defined in %s", name, path);
	return ZB_OK;
}

/* The binary: a path, or a name searched in PATH; executable. */
static int
find_binary(struct rclone *rc, const char *bin)
{
	const char	*path, *p, *e;
	char		*cand;

	if (strchr(bin, '/') != NULL) {
		if (access(bin, X_OK) != 0)
			return rc->host->cfg_error(rc->inst, "rclone", "%s: %s",
			    bin, strerror(errno));
		rc->binary = strdup(bin);
		return rc->binary != NULL ? ZB_OK : ZB_ERR;
	}
	path = getenv("PATH");
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p != '\0'; p = *e != '\0' ? e + 1 : e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if (e == p)
			continue;
		if (asprintf(&cand, "%.*s/%s", (int)(e - p), p, bin) == -1)
			return ZB_ERR;
		if (access(cand, X_OK) == 0) {
			rc->binary = cand;
			return ZB_OK;
		}
		free(cand);
	}
	return rc->host->cfg_error(rc->inst, "rclone", "'%s' is not found "
	    "in PATH (install rclone, or give its path)", bin);
}

/* Inherited RCLONE_* variables: removed from every child's environment. */
static int
collect_unset(struct rclone *rc)
{
	size_t	 i, n = 0;
	char	**env;

	for (env = environ; *env != NULL; env++)
		if (strncmp(*env, "RCLONE_", 7) == 0)
			n++;
	if (n > RCLONE_ARGS_MAX - 8) {
		rc->host->log(rc->inst, ZB_LOG_ERROR, "%zu RCLONE_* variables "
		    "in the environment: too many", n);
		return ZB_ERR;
	}
	rc->unset = calloc(n + 1, sizeof(*rc->unset));
	if (rc->unset == NULL)
		return ZB_ERR;
	for (env = environ, i = 0; *env != NULL && i < n; env++) {
		if (strncmp(*env, "RCLONE_", 7) != 0)
			continue;
		rc->unset[i] = strndup(*env, strcspn(*env, "="));
		if (rc->unset[i] == NULL)
			return ZB_ERR;
		rc->nunset = ++i;
	}
	return ZB_OK;
}

static void
rclone_free(struct rclone *rc)
{
	size_t	 i;

	rclone_rcd_free(rc);
	free(rc->remote);
	free(rc->config);
	free(rc->binary);
	free(rc->temp_dir);
	free(rc->bwlimit);
	free(rc->log_level);
	if (rc->pass != NULL)
		rc->host->secret_free(rc->pass, rc->pass_len);
	for (i = 0; i < rc->nunset; i++)
		free(rc->unset[i]);
	free(rc->unset);
	free(rc);
}

static char *
opt_dup(struct rclone *rc, const char *key)
{
	const char	*v = rc->host->cfg_str(rc->inst, key);

	return v != NULL ? strdup(v) : NULL;
}

static int
rclone_init(const struct zb_host_api *host, struct zb_inst *inst, void **ctx)
{
	struct rclone	*rc;
	const char	*remote, *lvl, *temp;
	char		 name[256], *secret = NULL;
	size_t		 len, slen = 0;
	int		 enc;

	if (host->struct_size < offsetof(struct zb_host_api, fd_writer) +
	    sizeof(host->fd_writer)) {
		host->log(inst, ZB_LOG_ERROR, "this daemon is too old for the "
		    "rclone sink (plugin ABI 1.5 needed)");
		return ZB_ERR;
	}
	rc = calloc(1, sizeof(*rc));
	if (rc == NULL)
		return ZB_ERR;
	rc->host = host;
	rc->inst = inst;
	rc->refs = 1;
	TAILQ_INIT(&rc->waiters);
	remote = host->cfg_str(inst, "remote");
	if (check_remote(rc, remote, name, sizeof(name)) != ZB_OK)
		goto fail;
	rc->remote = strdup(remote);
	if (rc->remote == NULL)
		goto fail;
	len = strlen(rc->remote);
	while (len > 0 && rc->remote[len - 1] == '/' &&
	    rc->remote[len - 2] != ':')
		rc->remote[--len] = '\0';
	rc->config = opt_dup(rc, "rclone_config");
	if (rc->config == NULL || check_config(rc, rc->config, name,
	    &enc) != ZB_OK)
		goto fail;
	if (find_binary(rc, host->cfg_str(inst, "rclone")) != ZB_OK)
		goto fail;
	if (host->secret(inst, "rclone_config_pass", &secret, &slen) !=
	    ZB_OK)
		goto fail;
	if (secret != NULL) {
		rc->pass_len = slen + sizeof("RCLONE_CONFIG_PASS=");
		rc->pass = malloc(rc->pass_len);
		if (rc->pass == NULL) {
			host->secret_free(secret, slen);
			goto fail;
		}
		snprintf(rc->pass, rc->pass_len, "RCLONE_CONFIG_PASS=%s",
		    secret);
		host->secret_free(secret, slen);
	} else if (enc) {
		host->cfg_error(inst, "rclone_config", "%s is encrypted: set "
		    "rclone_config_pass (or rclone_config_pass_file)",
		    rc->config);
		goto fail;
	}
	rc->chunk_size = host->cfg_int(inst, "onedrive_chunk_size");
	if (rc->chunk_size % RCLONE_ONEDRIVE_UNIT != 0) {
		host->cfg_error(inst, "onedrive_chunk_size", "%lld is not a "
		    "multiple of 320k (327680 bytes), as OneDrive requires",
		    (long long)rc->chunk_size);
		goto fail;
	}
	lvl = host->cfg_str(inst, "rclone_log_level");
	if (strcmp(lvl, "NOTICE") != 0 && strcmp(lvl, "INFO") != 0 &&
	    strcmp(lvl, "DEBUG") != 0) {
		host->cfg_error(inst, "rclone_log_level", "'%s' is not NOTICE, "
		    "INFO or DEBUG", lvl);
		goto fail;
	}
	rc->log_level = strdup(lvl);
	temp = host->cfg_str(inst, "temp_dir");
	if (temp != NULL && temp[0] != '/') {
		host->cfg_error(inst, "temp_dir", "must be an absolute path");
		goto fail;
	}
	rc->temp_dir = opt_dup(rc, "temp_dir");
	rc->bwlimit = opt_dup(rc, "bwlimit");
	rc->max_uploads = (int)host->cfg_int(inst, "max_uploads");
	/* The core's per-sink `timeout' also bounds rclone's idle IO. */
	rc->timeout_ms = host->cfg_int(inst, "timeout");
	if (rc->log_level == NULL || collect_unset(rc) != ZB_OK)
		goto fail;
	*ctx = rc;
	return ZB_OK;
fail:
	rclone_free(rc);
	return ZB_ERR;
}

void
rclone_unref(struct rclone *rc)
{
	if (--rc->refs == 0)
		rclone_free(rc);
}

static void
rclone_fini(void *ctx)
{
	struct rclone	*rc = ctx;

	rc->finished = 1;
	rclone_rcd_stop(rc);
	rclone_unref(rc);
}

/* ---- keys and paths ------------------------------------------------------ */

int
rclone_key_ok(const char *key)
{
	const char	*p = key;
	size_t		 n;

	if (*key == '\0' || *key == '/' || strpbrk(key, "\n\r\\") != NULL)
		return 0;
	for (;;) {
		n = strcspn(p, "/");
		if (n == 0 || p[0] == '.')
			return 0;
		if (p[n] == '\0')
			return 1;
		p += n + 1;
	}
}

char *
rclone_path(struct rclone *rc, const char *key)
{
	size_t	 n = strlen(rc->remote);
	char	*p;

	if (asprintf(&p, "%s%s%s", rc->remote,
	    *key == '\0' || rc->remote[n - 1] == ':' ||
	    rc->remote[n - 1] == '/' ? "" : "/", key) == -1)
		return NULL;
	return p;
}

size_t
rclone_tmp_target_len(const char *base)
{
	size_t		 n = strlen(base);
	size_t		 tl = sizeof(RCLONE_TMP_TAG "XXXXXXXX") - 1;
	const char	*tail;

	if (base[0] != '.' || n < 2 + tl || strchr(base, '/') != NULL)
		return 0;
	tail = base + n - tl;
	if (strncmp(tail, RCLONE_TMP_TAG, 4) != 0)
		return 0;
	return (size_t)(tail - base) - 1;
}

/* ---- upload slots -------------------------------------------------------- */

void
rclone_slot_wait(struct rclone *rc, struct rc_waiter *w)
{
	if (rc->uploads < rc->max_uploads && TAILQ_EMPTY(&rc->waiters)) {
		rc->uploads++;
		w->start(w->arg);
		return;
	}
	w->queued = 1;
	TAILQ_INSERT_TAIL(&rc->waiters, w, entry);
}

void
rclone_slot_cancel(struct rclone *rc, struct rc_waiter *w)
{
	if (w->queued) {
		TAILQ_REMOVE(&rc->waiters, w, entry);
		w->queued = 0;
	}
}

void
rclone_slot_release(struct rclone *rc)
{
	struct rc_waiter	*w;

	rc->uploads--;
	while (rc->uploads < rc->max_uploads && !TAILQ_EMPTY(&rc->waiters)) {
		w = TAILQ_FIRST(&rc->waiters);
		TAILQ_REMOVE(&rc->waiters, w, entry);
		w->queued = 0;
		rc->uploads++;
		w->start(w->arg);
	}
}

ZB_EXPORT const struct zb_plugin_desc zb_plugin = {
	.abi_version = ZB_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(struct zb_plugin_desc),
	.abi_sig = ZB_ABI_SIG,
	.kind = ZB_KIND_SINK,
	.caps = ZB_CAP_PAUSE,
	.name = "rclone",
	.version = PACKAGE_VERSION,
	.description = "store artifacts on any rclone remote (OneDrive, "
	    "SFTP, WebDAV, B2, ...) through the rclone binary",
	.options = rclone_options,
	.init = rclone_init,
	.fini = rclone_fini,
	.put_open = rclone_put_open,
	.get_open = rclone_get_open,
	.list = rclone_list,
	.remove = rclone_remove,
	.list_pending = rclone_list_pending,
	.remove_pending = rclone_remove_pending,
};
