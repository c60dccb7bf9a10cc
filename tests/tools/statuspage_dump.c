/*
 * statuspage_dump.c - test tool: writes what GET / (statuspage_render)
 * serves to stdout and its status and content type to stderr, so the
 * Chromium test loads the compiled-in page, not the source file.
 * Usage: statuspage_dump [METHOD]
 */
#include "zb-build.h"

#include <stdio.h>

#include "buf.h"
#include "daemon/statuspage.h"

int
main(int argc, char **argv)
{
	struct buf	 body;
	const char	*ctype = NULL;
	int		 status;

	buf_init(&body, 1 << 20);
	status = statuspage_render(argc > 1 ? argv[1] : "GET", &body, &ctype);
	fprintf(stderr, "%d %s\n", status, ctype);
	if (body.len > 0 && fwrite(body.data, 1, body.len, stdout) !=
	    body.len) {
		perror("statuspage_dump: stdout");
		return 1;
	}
	buf_free(&body);
	return fflush(stdout) == 0 ? 0 : 1;
}
