/*
 * child.h - child processes with non-blocking pipes, reaped on the loop.
 */
#ifndef ZB_CHILD_H
#define ZB_CHILD_H

#include <sys/types.h>

#include "zentoria/plugin.h"

/*
 * Start req's program.  Its stderr is logged line by line with prefix
 * (copied).  Returns 0 and fills *fds, or -1 with the reason logged.
 */
int	child_spawn(const char *prefix, const struct zb_spawn_req *req,
	    struct zb_child_fds *fds);
/* Signal a child's process group if it is still one of ours. */
void	child_kill(pid_t pid, int sig);
/* Signal the process group of every child not yet reported. */
void	child_kill_all(int sig);
/* Children not yet reaped and reported. */
int	child_count(void);
/* Describe a waitpid() status: "exit status 2", "killed by signal 9". */
void	child_status_str(int status, char *buf, size_t len);

#endif
