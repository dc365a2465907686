/* hostcheck.h - is a Host header or a listen address the loopback interface?
 *
 * While the dashboard listens on loopback only, a page on another site can
 * still reach it through the browser by pointing its own DNS name at
 * 127.0.0.1 (DNS rebinding). Such requests carry that foreign name in Host:
 * refusing every Host that is not a loopback name stops them. */
#ifndef HOSTCHECK_H
#define HOSTCHECK_H

#include <stdbool.h>

/* true if host (a Host header value, with or without a port) names the
 * loopback interface: localhost, 127.x.x.x or [::1]. NULL is false. */
bool host_is_loopback(const char *host);
/* true if addr (a WEB_HOST value) is a loopback address. */
bool addr_is_loopback(const char *addr);

#endif
