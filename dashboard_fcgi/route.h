/* route.h - which endpoint answers a request, decided on REQUEST_URI.
 *
 *   /                                        main page (HTML)
 *   /request/{id}                            detail page (HTML)
 *   /api/requests                            list (JSON)
 *   /api/request/{id}                        one capture (JSON)
 *   /api/request/{id}/body/{request|response} stored body (download)
 *   /api/stats, /api/info                    statistics, settings (JSON)
 *
 * Only GET and HEAD (405 otherwise); unknown /api/ paths get a JSON 404,
 * others an HTML 404. When the dashboard listens on loopback only, requests
 * whose Host is not a loopback name are refused (403): a DNS-rebinding page
 * must not read the captures through the user's browser. */
#ifndef ROUTE_H
#define ROUTE_H

#include "dashboard.h"

void route(struct req *r);

#endif
