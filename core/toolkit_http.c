/*
 * toolkit_http.c - the HTTP adapters of ABI 1.5: a request with a retry
 * policy, a download producer with ranged resume, an upload writer.
 * STUB: to be implemented.
 */
#include "zb-build.h"

#include <stddef.h>

#include "io.h"
#include "log.h"
#include "toolkit.h"

struct zb_http_req *
toolkit_http_request(struct zb_inst *inst, const struct zb_http_spec *spec)
{
	(void)inst;
	(void)spec;
	log_warnx("http_request: not implemented yet");
	return NULL;
}

void
toolkit_http_request_cancel(struct zb_http_req *req)
{
	(void)req;
}

void
toolkit_http_set_header(struct zb_http_req *req, const char *name,
    const char *value)
{
	(void)req;
	(void)name;
	(void)value;
}

int
toolkit_http_download(struct zb_io *s, const struct zb_http_download_spec *spec,
    const struct zb_producer_ops **ops, void **pctx)
{
	(void)s;
	(void)spec;
	(void)ops;
	(void)pctx;
	log_warnx("http_download: not implemented yet");
	return ZB_ERR;
}

int
toolkit_http_upload(struct zb_io *w, const struct zb_http_upload_spec *spec,
    const struct zb_writer_ops **ops, void **wctx)
{
	(void)w;
	(void)spec;
	(void)ops;
	(void)wctx;
	log_warnx("http_upload: not implemented yet");
	return ZB_ERR;
}
