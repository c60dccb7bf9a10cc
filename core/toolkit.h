/*
 * toolkit.h - the host adapters of ABI 1.5 (zentoria/plugin.h, "the
 * toolkit"): fd producer and writer (toolkit_fd.c), HTTP request,
 * download and upload (toolkit_http.c).  The host API table points at
 * these; core code may use them too.
 */
#ifndef ZB_TOOLKIT_H
#define ZB_TOOLKIT_H

#include "zentoria/plugin.h"

int	toolkit_fd_producer(struct zb_io *s, const struct zb_fd_producer_spec *,
	    const struct zb_producer_ops **ops, void **pctx);
int	toolkit_fd_writer(struct zb_io *w, const struct zb_fd_writer_spec *,
	    const struct zb_writer_ops **ops, void **wctx);

struct zb_http_req *toolkit_http_request(struct zb_inst *,
	    const struct zb_http_spec *);
void	toolkit_http_request_cancel(struct zb_http_req *);
void	toolkit_http_set_header(struct zb_http_req *, const char *name,
	    const char *value);
int	toolkit_http_download(struct zb_io *s,
	    const struct zb_http_download_spec *,
	    const struct zb_producer_ops **ops, void **pctx);
int	toolkit_http_upload(struct zb_io *w, const struct zb_http_upload_spec *,
	    const struct zb_writer_ops **ops, void **wctx);

const struct zb_json *toolkit_json_parse(const char *text, size_t len,
	    char *err, size_t errlen);
void	toolkit_json_free(const struct zb_json *root);
const struct zb_json *toolkit_json_get(const struct zb_json *obj,
	    const char *key);
int	toolkit_json_int(const struct zb_json *v, int64_t *out);

void	toolkit_buf_init(struct zb_buf *, size_t max);
void	toolkit_buf_free(struct zb_buf *);
int	toolkit_buf_add(struct zb_buf *, const void *, size_t);
int	toolkit_buf_printf(struct zb_buf *, const char *fmt, ...)
	    ZB_PRINTF(2, 3);
int	toolkit_buf_json_str(struct zb_buf *, const char *s);

#endif
