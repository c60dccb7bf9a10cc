/*
 * notify.h - systemd's readiness protocol (sd_notify) and the pid file.
 */
#ifndef ZB_NOTIFY_H
#define ZB_NOTIFY_H

/*
 * Read NOTIFY_SOCKET once and remove it from the environment (children
 * must not speak for us).  Without it every notify_*() is a no-op.
 */
void	notify_init(void);
/* "READY=1" etc.: one datagram; 0 sent (or nothing to send to), -1. */
int	notify_send(const char *msg);
void	notify_ready(const char *status);
/* RELOADING=1 with MONOTONIC_USEC= (systemd 253's Type=notify-reload). */
void	notify_reloading(void);
void	notify_stopping(void);

/*
 * Write our pid to path (atomically: temp file + rename); -1 logged.
 * pidfile_remove() removes it only if it still holds our pid.
 */
int	pidfile_write(const char *path);
void	pidfile_remove(const char *path);

#endif
