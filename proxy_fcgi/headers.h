/* headers.h - which headers cross the proxy, and under what names.
 *
 * lighttpd hands request headers over as CGI params (HTTP_OPENAI_BETA=...);
 * these functions turn them back into header names, drop hop-by-hop headers
 * (RFC 9110 7.6.1) and our own X-Capture-* attribution headers, and decide
 * which upstream response headers go back to the client. */
#ifndef HEADERS_H
#define HEADERS_H

#include <stdbool.h>
#include <stddef.h>

/* If param is "HTTP_NAME=value", writes the header name ("Openai-Beta" style,
 * "OpenAI-" for OPENAI_) into out and returns a pointer to value; else NULL
 * (also when the name does not fit in outlen). */
const char *hdr_from_cgi(const char *param, char *out, size_t outlen);
/* true if a request header must not be forwarded upstream: hop-by-hop,
 * ones curl sets itself (Host, Content-Length, Expect, Accept-Encoding), or
 * listed in the request's Connection header (connection may be NULL). */
bool hdr_request_drop(const char *name, const char *connection);
/* true if an upstream response header must not reach the client: hop-by-hop,
 * named in the response's Connection header (connection may be NULL),
 * Transfer-Encoding (lighttpd chunks itself), and Content-Length and
 * Content-Encoding when curl decoded the body (decoded). */
bool hdr_response_drop(const char *name, size_t len, bool decoded, const char *connection);
/* true if value contains a CR, LF or NUL (it could split a response). */
bool hdr_value_unsafe(const char *value, size_t len);

#endif
