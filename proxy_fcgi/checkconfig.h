/* checkconfig.h - `proxy_fcgi --check-config`: the start-up gate of deploy/run.sh. */
#ifndef CHECKCONFIG_H
#define CHECKCONFIG_H

#include "config.h"

/* Checks that both listen ports can be bound; prints what to change when not.
 * Returns 0 if both are free, -1 otherwise. */
int checkconfig_ports(const struct config *c);

/* Loads the configuration (CAPTURE_CONFIG, else ./config.env), checks it and
 * the ports, and prints NAME='value' lines for the shell. Returns the exit
 * status: 0 good, 1 with a message on stderr naming the option. */
int checkconfig_main(void);

#endif
