/*
 * notify.c - the daemon talks to systemd without libsystemd: sd_notify
 * is one datagram to the unix socket named by NOTIFY_SOCKET (a path, or
 * "@name" for the abstract namespace), "KEY=VALUE" lines.  Also the
 * optional pid file.  Nothing here may stop the daemon: a failed notify
 * or pid file write is logged and the daemon goes on.
 */
#include "zb-build.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "util.h"

static struct sockaddr_un	 addr;
static socklen_t		 addrlen;	/* 0: no NOTIFY_SOCKET */

void
notify_init(void)
{
	const char	*s = getenv("NOTIFY_SOCKET");
	size_t		 len;

	addrlen = 0;
	if (s == NULL || s[0] == '\0')
		return;
	len = strlen(s);
	if ((s[0] != '/' && s[0] != '@') || len >= sizeof(addr.sun_path)) {
		log_warnx("NOTIFY_SOCKET: not an absolute path or @name (or "
		    "too long): systemd will not hear from us");
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, s, len);
	if (s[0] == '@')
		addr.sun_path[0] = '\0';	/* abstract: no NUL after it */
	addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (s[0] == '@' ? 0 : 1));
	unsetenv("NOTIFY_SOCKET");
}

int
notify_send(const char *msg)
{
	ssize_t	 n;
	int	 fd;

	if (addrlen == 0)
		return 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("sd_notify: socket");
		return -1;
	}
	n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&addr, addrlen);
	close(fd);
	if (n == -1) {
		log_warn("sd_notify: cannot send \"%.*s\" to the "
		    "NOTIFY_SOCKET", (int)strcspn(msg, "\n"), msg);
		return -1;
	}
	log_debug("sd_notify: %.*s", (int)strcspn(msg, "\n"), msg);
	return 0;
}

void
notify_ready(const char *status)
{
	char	 msg[256];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s\n", status);
	notify_send(msg);
}

void
notify_reloading(void)
{
	struct timespec	 ts;
	char		 msg[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	notify_send(msg);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1\nSTATUS=stopping\n");
}

int
pidfile_write(const char *path)
{
	char	*tmp, line[32];
	int	 fd, rc = -1;

	snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	tmp = xasprintf("%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd == -1 || write_all(fd, line, strlen(line)) == -1 ||
	    rename(tmp, path) == -1)
		log_warn("pid_file %s", path);
	else
		rc = 0;
	if (fd != -1)
		close(fd);
	if (rc == -1)
		unlink(tmp);
	free(tmp);
	return rc;
}

void
pidfile_remove(const char *path)
{
	char	 buf[32], mine[32];
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	snprintf(mine, sizeof(mine), "%ld\n", (long)getpid());
	/* Another daemon's file (started after us): not ours to remove. */
	if (strcmp(buf, mine) == 0 && unlink(path) == -1)
		log_warn("pid_file %s", path);
}
