/* checkconfig.c - validates config and listen ports before anything starts. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checkconfig.h"
#include "banned.h"

/* 0 if host:port can be bound now, else the errno of the failure. */
static int try_bind(const char *host, int port)
{
	struct addrinfo hints, *res = NULL;
	char service[16];
	int fd, one = 1, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &res) != 0 || !res)
		return EADDRNOTAVAIL;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0) {
		err = errno;
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, res->ai_addr, res->ai_addrlen) < 0)
			err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	return err;
}

static int check_port(const char *host, int port, const char *host_opt, const char *port_opt)
{
	int err = try_bind(host, port);

	if (!err)
		return 0;
	if (err == EADDRINUSE)
		fprintf(stderr, "error: %s %d on %s is already in use by another program.\n"
			"Set another port: change %s in config.env, or run e.g. %s=%d make run\n",
			port_opt, port, host, port_opt, port_opt, port + 1000);
	else if (err == EACCES)
		fprintf(stderr, "error: %s %d on %s needs privileges to bind; choose a port above 1023\n",
			port_opt, port, host);
	else
		fprintf(stderr, "error: cannot listen on %s:%d (%s, %s): %s\n", host, port,
			host_opt, port_opt, strerror(err));
	return -1;
}

int checkconfig_ports(const struct config *c)
{
	int rc = 0;

	if (c->proxy_port == c->web_port) {
		fprintf(stderr, "error: PROXY_PORT and WEB_PORT are both %d; give them different ports\n",
			c->proxy_port);
		return -1;
	}
	rc |= check_port(c->proxy_host, c->proxy_port, "PROXY_HOST", "PROXY_PORT");
	rc |= check_port(c->web_host, c->web_port, "WEB_HOST", "WEB_PORT");
	return rc ? -1 : 0;
}

int checkconfig_main(void)
{
	const char *path = getenv("CAPTURE_CONFIG");
	struct config c;
	char err[1024];
	int rc = 1;

	if (config_load(&c, path && *path ? path : "config.env", path && *path,
			err, sizeof(err))) {
		fprintf(stderr, "error: configuration: %s\n", err);
		goto out;
	}
	if (checkconfig_ports(&c))
		goto out;
	config_print_shell(&c, stdout, true);
	rc = 0;
out:
	config_release(&c);
	return rc;
}
