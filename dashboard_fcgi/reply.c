/* reply.c - response headers, bodies and JSON errors. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "reply.h"
#include "banned.h"

#define CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; " \
	"base-uri 'none'; form-action 'self'; object-src 'none'"

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "";
	}
}

void reply_start(struct req *r, int status, const char *content_type,
		 enum reply_cache cache, const char *extra)
{
	if (r->replied)
		return;
	r->replied = true;
	r->status = status;
	FCGX_FPrintF(r->fcgi->out,
		     "Status: %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Cache-Control: %s\r\n"
		     "Content-Security-Policy: " CSP "\r\n"
		     "X-Content-Type-Options: nosniff\r\n"
		     "X-Frame-Options: DENY\r\n"
		     "Referrer-Policy: no-referrer\r\n"
		     "Cross-Origin-Resource-Policy: same-origin\r\n"
		     "Cross-Origin-Opener-Policy: same-origin\r\n"
		     "%s\r\n",
		     status, reason(status), content_type,
		     cache == REPLY_NO_STORE ? "no-store" : "no-cache",
		     extra ? extra : "");
}

void reply_write(struct req *r, const void *p, size_t n)
{
	if (r->head || !n)
		return;
	FCGX_PutStr(p, (int)n, r->fcgi->out);
}

void reply_sink(void *req, const char *p, size_t n)
{
	reply_write(req, p, n);
}

static void error_body(struct req *r, const char *type, const char *code, const char *msg)
{
	struct jw w;

	jw_init(&w, reply_sink, r);
	jw_object_begin(&w);
	jw_key(&w, "error");
	jw_object_begin(&w);
	jw_key(&w, "message");
	jw_cstring(&w, msg);
	jw_key(&w, "type");
	jw_cstring(&w, type);
	jw_key(&w, "code");
	jw_cstring(&w, code);
	jw_object_end(&w);
	jw_object_end(&w);
	reply_write(r, "\n", 1);
}

void reply_error(struct req *r, int status, const char *type, const char *code,
		 const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->replied)
		return;     /* a body is under way: nothing sensible to add */
	reply_start(r, status, "application/json; charset=utf-8", REPLY_NO_STORE,
		    status == 405 ? "Allow: GET, HEAD\r\n" : NULL);
	error_body(r, type, code, msg);
}

void reply_bad_request(struct req *r, const char *message)
{
	reply_error(r, 400, "invalid_request_error", "invalid_parameter", "%s", message);
}

void reply_not_found(struct req *r, const char *what)
{
	reply_error(r, 404, "not_found_error", "not_found", "%s", what);
}
