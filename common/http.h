/*
 * http.h - the HTTP(S) server glue shared by pii-vault and pii-proxy.
 *
 * Wraps libmicrohttpd: an internal epoll thread pool, TLS from PEM files,
 * client certificates checked against a CA, limits on everything (body size
 * per route, connections, connections per IP, an idle timeout), request ids,
 * JSON error bodies from the err.h table, and metrics per route.
 *
 * Before a handler runs, the glue rejects with 400: a duplicate
 * Content-Length, Content-Length together with Transfer-Encoding, and a body
 * over the route's limit (413).  The handler runs once, after the whole body
 * has been received, so keep-alive connections survive.
 */
#ifndef PII_HTTP_H
#define PII_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "err.h"
#include "metrics.h"

struct MHD_Connection;
struct pii_http_server;

#define PII_REQUEST_ID_MAX 64

struct pii_http_request {
	const char *method;
	const char *path;               /* without the query string */
	const unsigned char *body;      /* NUL-terminated; wiped after the handler */
	size_t body_len;
	const char *request_id;         /* caller's X-Request-Id or a new one */
	const char *peer_cert_name;     /* CN of a verified client certificate, or NULL */
	const char *client_addr;        /* numeric address of the peer */
	struct MHD_Connection *conn;
};

struct pii_http_response {
	unsigned int status;
	char *body;                     /* new; wiped and freed by the glue */
	size_t body_len;
	void (*body_free)(void *);      /* how body is released (set by reply_*) */
	const char *content_type;       /* static string */
	const char *route;              /* static metrics label, set by the handler */
	const char *csp;                /* static Content-Security-Policy, or NULL */
};

typedef void (*pii_http_handler_fn)(void *ctx, const struct pii_http_request *req,
    struct pii_http_response *resp);
/* Maximum body size for a request, decided from method and path alone. */
typedef size_t (*pii_http_limit_fn)(void *ctx, const char *method, const char *path);

struct pii_http_config {
	const char *address;            /* numeric IPv4/IPv6 address to bind */
	uint16_t port;                  /* 0: any free port (see pii_http_port) */
	const char *cert_file;          /* NULL: plain HTTP, allowed only on loopback */
	const char *key_file;
	const char *client_ca_file;     /* NULL: no client certificates */
	unsigned int threads;
	unsigned int max_connections;
	unsigned int max_per_ip;
	unsigned int timeout_seconds;   /* idle / half-sent request timeout */
	size_t max_body;                /* default body limit */
	const char *server_name;        /* metrics prefix: "piiv_vault" */
};

/* 1 if address is a loopback address (127.0.0.0/8 or ::1). */
int pii_http_is_loopback(const char *address);
/* A daemon's configuration check: without a TLS certificate (tls_cert_file
 * NULL) both listeners must be on loopback (admin_address NULL: no admin
 * listener).  PII_ERR_CONFIG naming "tls" otherwise. */
int pii_http_check_plain(const char *tls_cert_file, const char *address,
    const char *admin_address, struct pii_errinfo *ei);

/* Start a server.  Refuses plain HTTP on a non-loopback address
 * (PII_ERR_CONFIG, ei says so).  *out is new; stop with pii_http_stop. */
int pii_http_start(const struct pii_http_config *cfg, pii_http_handler_fn fn,
    pii_http_limit_fn limit, void *ctx, struct pii_metrics *metrics,
    struct pii_http_server **out, struct pii_errinfo *ei);
/* A daemon's two listeners: the API (api) and, when admin_address is not
 * NULL, an admin listener on admin_address:admin_port with the same TLS
 * files but no client certificates, one thread, 64 connections (16 per
 * address) and 1 KiB bodies, for health, readiness and metrics.  On
 * failure neither runs.  *api_out and *admin_out (NULL without one) are
 * new; stop each with pii_http_stop. */
int pii_http_start_with_admin(const struct pii_http_config *api,
    pii_http_handler_fn api_fn, pii_http_limit_fn api_limit,
    const char *admin_address, uint16_t admin_port, pii_http_handler_fn admin_fn,
    void *ctx, struct pii_metrics *metrics, struct pii_http_server **api_out,
    struct pii_http_server **admin_out, struct pii_errinfo *ei);
/* The port actually bound. */
uint16_t pii_http_port(const struct pii_http_server *srv);
/* Stop accepting, finish, release.  Accepts NULL. */
void pii_http_stop(struct pii_http_server *srv);

/* Request accessors; results are borrowed from the connection. */
const char *pii_http_header(const struct pii_http_request *req, const char *name);
const char *pii_http_query(const struct pii_http_request *req, const char *name);

/* Responses.  reply_json steals body_new. */
void pii_http_reply_json(struct pii_http_response *resp, unsigned int status,
    json_t *body_new);
void pii_http_reply_error(struct pii_http_response *resp,
    const struct pii_http_request *req, const struct pii_errinfo *ei);
/* Take ownership of text (malloc'ed) as a text/plain response. */
void pii_http_reply_text(struct pii_http_response *resp, unsigned int status,
    char *text_new, size_t len, const char *content_type);

#endif
