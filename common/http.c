/*
 * http.c - libmicrohttpd glue: limits, request ids, TLS and client
 * certificates, JSON errors, metrics.
 *
 * Life of a request (MHD calls on_request several times):
 *   1st call   headers are in: check Content-Length / Transfer-Encoding,
 *              the declared size against the route limit, the request id.
 *   next calls body chunks are appended, bounded by the route limit.
 *   last call  (upload size 0) the connection is suspended and the request
 *              handed to the worker threads; the first free worker runs the
 *              handler, then resumes the connection.
 *   resumed    MHD calls once more: the response is queued.
 * Queuing only on the last call keeps keep-alive connections open; an early
 * rejection is queued at once and MHD then closes the connection.
 *
 * Why workers: handlers block (database, audit commit).  Run inside MHD's
 * pool threads, every keep-alive connection that the kernel happened to give
 * to a busy pool thread queued behind that thread's other connections: at
 * 16 clients some saw 5x the latency of others while other threads idled.
 * The pool threads now only do I/O and TLS; `threads` workers (each with
 * its own database connections) take requests in arrival order.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <sodium.h>

#include "config.h"
#include "http.h"
#include "json_util.h"
#include "log.h"

#define MAX_PEM_BYTES (256 * 1024)

struct pii_http_server {
	struct MHD_Daemon *daemon;
	pii_http_handler_fn fn;
	pii_http_limit_fn limit;
	void *ctx;
	struct pii_metrics *metrics;
	size_t max_body;
	int tls;
	int client_certs;
	char *cert_pem, *key_pem, *ca_pem;
	size_t key_pem_len;
	uint16_t port;
	/* the workers and their queue of suspended requests */
	pthread_t *workers;
	unsigned int nworkers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct req_state *head, *tail;
	int stopping;
	int sync_ok;                  /* mu and cv initialized */
};

/* Per-connection state: the verified client certificate name, computed once. */
struct conn_state {
	int checked;
	char peer_name[128];
};

/* Per-request state, from the first call to completion. */
struct req_state {
	struct timespec start;
	unsigned char *body;
	size_t len, cap, limit;
	int rejected;                 /* a response was queued early */
	int too_large;                /* body over the limit: drained, answered 413 */
	size_t drained;               /* bytes discarded after the limit */
	unsigned int status;
	const char *route;
	char request_id[PII_REQUEST_ID_MAX + 1];
	/* handed to a worker: the request, then its answer */
	int handed;                   /* 1 queued or running, 2 answered */
	struct req_state *next;
	struct MHD_Connection *conn;
	struct pii_http_request req;
	struct pii_http_response resp;
	char addr[64];
};

int
pii_http_is_loopback(const char *address)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (address == NULL)
		return 0;
	if (inet_pton(AF_INET, address, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, address, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

static int
request_id_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; *s != '\0'; s++, n++) {
		char c = *s;

		if (n >= PII_REQUEST_ID_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

static void
request_id_new(char out[PII_REQUEST_ID_MAX + 1])
{
	unsigned char raw[12];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, PII_REQUEST_ID_MAX + 1, raw, sizeof(raw));
}

static double
elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
	    (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* How much of an over-limit body is read and discarded so that the client
 * can read its 413 (closing with unread data makes the peer see a reset). */
static size_t
drain_max(size_t limit)
{
	size_t m = limit * 4;

	return m < (1u << 20) ? (1u << 20) : (m > (64u << 20) ? (64u << 20) : m);
}

/* ---- responses ---- */

static void
free_json_body(void *p)
{
	pii_json_free_str(p);
}

static void
free_text_body(void *p)
{
	if (p != NULL) {
		sodium_memzero(p, strlen(p));
		free(p);
	}
}

void
pii_http_reply_json(struct pii_http_response *resp, unsigned int status,
    json_t *body_new)
{
	char *s = NULL;
	size_t len = 0;

	if (resp->body != NULL) {
		/* a handler replying twice: keep the first answer */
		json_decref(body_new);
		return;
	}
	if (body_new == NULL || pii_json_dump(body_new, &s, &len) != 0) {
		json_decref(body_new);
		resp->status = 500;
		return;
	}
	json_decref(body_new);
	resp->status = status;
	resp->body = s;
	resp->body_len = len;
	resp->body_free = free_json_body;
	resp->content_type = "application/json";
}

void
pii_http_reply_error(struct pii_http_response *resp,
    const struct pii_http_request *req, const struct pii_errinfo *ei)
{
	json_t *err, *body;
	int code = ei != NULL && ei->code != 0 ? ei->code : PII_ERR_INTERNAL;
	const char *msg = ei != NULL && ei->message[0] != '\0' ? ei->message :
	    pii_strerror(code);

	err = json_pack("{s:s, s:s, s:s}", "code", pii_err_api_code(code),
	    "message", msg, "request_id", req != NULL ? req->request_id : "");
	if (err != NULL && ei != NULL && ei->field[0] != '\0')
		json_object_set_new(err, "field", json_string(ei->field));
	body = json_pack("{s:o}", "error", err);
	pii_http_reply_json(resp, pii_err_http_status(code), body);
}

void
pii_http_reply_text(struct pii_http_response *resp, unsigned int status,
    char *text_new, size_t len, const char *content_type)
{
	if (resp->body != NULL || text_new == NULL) {
		free(text_new);
		if (resp->body == NULL)
			resp->status = 500;
		return;
	}
	resp->status = status;
	resp->body = text_new;
	resp->body_len = len;
	resp->body_free = free_text_body;
	resp->content_type = content_type != NULL ? content_type :
	    "text/plain; charset=utf-8";
}

static enum MHD_Result
queue_response(struct MHD_Connection *conn, struct req_state *st,
    struct pii_http_response *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (resp->body == NULL) {
		struct pii_http_request req = { 0 };
		struct pii_errinfo ei;

		req.request_id = st->request_id;
		pii_errinfo_set(&ei, PII_ERR_INTERNAL, NULL, NULL);
		pii_http_reply_error(resp, &req, &ei);
		if (resp->body == NULL)
			return MHD_NO;
	}
	r = MHD_create_response_from_buffer_with_free_callback(resp->body_len,
	    resp->body, resp->body_free);
	if (r == NULL) {
		resp->body_free(resp->body);
		return MHD_NO;
	}
	resp->body = NULL;
	MHD_add_response_header(r, "Content-Type", resp->content_type);
	MHD_add_response_header(r, "X-Request-Id", st->request_id);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (resp->csp != NULL)
		MHD_add_response_header(r, "Content-Security-Policy", resp->csp);
	ret = MHD_queue_response(conn, resp->status, r);
	MHD_destroy_response(r);
	st->status = resp->status;
	st->route = resp->route != NULL ? resp->route : "other";
	return ret;
}

static enum MHD_Result
reject_early(struct MHD_Connection *conn, struct req_state *st, int code,
    const char *field, const char *msg)
{
	struct pii_http_response resp = { 0 };
	struct pii_http_request req = { 0 };
	struct pii_errinfo ei;

	pii_errinfo_set(&ei, code, field, "%s", msg);
	req.request_id = st->request_id;
	pii_http_reply_error(&resp, &req, &ei);
	resp.route = "rejected";
	st->rejected = 1;
	return queue_response(conn, st, &resp);
}

/* ---- headers ---- */

struct header_scan {
	int content_length;
	int transfer_encoding;
	const char *request_id;
};

static enum MHD_Result
scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct header_scan *hs = cls;

	(void)kind;
	if (strcasecmp(key, "Content-Length") == 0)
		hs->content_length++;
	else if (strcasecmp(key, "Transfer-Encoding") == 0)
		hs->transfer_encoding++;
	else if (strcasecmp(key, "X-Request-Id") == 0 && hs->request_id == NULL)
		hs->request_id = value;
	return MHD_YES;
}

const char *
pii_http_header(const struct pii_http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
pii_http_query(const struct pii_http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- client certificates ---- */

static int
cert_name_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
		    c == '@'))
			return 0;
	}
	return 1;
}

/* The CN of the peer's certificate if it verified against the configured CA
 * for client authentication; "" otherwise. */
static void
peer_cert_name(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t session;
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt;
	gnutls_typed_vdata_st purpose;
	unsigned int status = 0, ncerts = 0;
	size_t sz = cap;

	out[0] = '\0';
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return;
	session = (gnutls_session_t)ci->tls_session;
	memset(&purpose, 0, sizeof(purpose));
	purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
	purpose.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT;
	if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) != 0 ||
	    status != 0)
		return;
	certs = gnutls_certificate_get_peers(session, &ncerts);
	if (certs == NULL || ncerts == 0)
		return;
	if (gnutls_x509_crt_init(&crt) != 0)
		return;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
	    out, &sz) == 0 && sz < cap && cert_name_ok(out)) {
		gnutls_x509_crt_deinit(crt);
		return;
	}
	out[0] = '\0';
	gnutls_x509_crt_deinit(crt);
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)conn;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = calloc(1, sizeof(struct conn_state));
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		free(*socket_context);
		*socket_context = NULL;
	}
}

static void
client_addr(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(out, cap, "unknown");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    out, (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    out, (socklen_t)cap);
}

/* ---- the access handler ---- */

static void run_handler(struct pii_http_server *srv, struct req_state *st);

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	struct pii_http_server *srv = cls;
	struct req_state *st = *con_cls;
	const char *peer = NULL;

	(void)version;
	if (st != NULL && st->handed == 2) {
		/* resumed by the worker that answered */
		st->handed = 0;
		return queue_response(conn, st, &st->resp);
	}
	if (st != NULL && st->handed == 1)
		return MHD_YES;   /* still with a worker (not expected) */
	if (st == NULL) {
		struct header_scan hs = { 0, 0, NULL };
		const char *cl;

		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return MHD_NO;
		*con_cls = st;
		clock_gettime(CLOCK_MONOTONIC, &st->start);
		MHD_get_connection_values(conn, MHD_HEADER_KIND, scan_header, &hs);
		if (request_id_valid(hs.request_id))
			snprintf(st->request_id, sizeof(st->request_id), "%s",
			    hs.request_id);
		else
			request_id_new(st->request_id);
		st->limit = srv->limit != NULL ? srv->limit(srv->ctx, method, url) :
		    srv->max_body;
		if (hs.content_length > 1)
			return reject_early(conn, st, PII_ERR_BAD_REQUEST,
			    "Content-Length", "duplicate Content-Length header");
		if (hs.content_length > 0 && hs.transfer_encoding > 0)
			return reject_early(conn, st, PII_ERR_BAD_REQUEST,
			    "Content-Length",
			    "Content-Length together with Transfer-Encoding");
		if (hs.transfer_encoding > 1)
			return reject_early(conn, st, PII_ERR_BAD_REQUEST,
			    "Transfer-Encoding", "duplicate Transfer-Encoding header");
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    "Content-Length");
		if (cl != NULL) {
			char *end = NULL;
			unsigned long long n = strtoull(cl, &end, 10);

			if (end == cl || *end != '\0')
				return reject_early(conn, st, PII_ERR_BAD_REQUEST,
				    "Content-Length", "malformed Content-Length");
			if (n > st->limit && n - st->limit > drain_max(st->limit)) {
				char msg[96];

				snprintf(msg, sizeof(msg),
				    "request body larger than %zu bytes", st->limit);
				return reject_early(conn, st, PII_ERR_TOO_LARGE,
				    "body", msg);
			}
			if (n > st->limit)
				st->too_large = 1;   /* read and discard, then 413 */
		}
		return MHD_YES;
	}

	if (*upload_size != 0) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (st->rejected)
			return MHD_YES;
		if (!st->too_large && n > st->limit - st->len) {
			/* MHD accepts a response only before the body or after
			 * all of it: discard the rest, answer at the end */
			if (st->body != NULL)
				sodium_memzero(st->body, st->len);
			free(st->body);
			st->body = NULL;
			st->len = st->cap = 0;
			st->too_large = 1;
		}
		if (st->too_large) {
			st->drained += n;
			/* a sender that keeps going is cut off */
			return st->drained > drain_max(st->limit) ? MHD_NO : MHD_YES;
		}
		if (st->len + n + 1 > st->cap) {
			size_t ncap = st->cap ? st->cap : 4096;
			unsigned char *nb;

			while (ncap < st->len + n + 1)
				ncap *= 2;
			if (ncap > st->limit + 1)
				ncap = st->limit + 1;
			nb = malloc(ncap);
			if (nb == NULL)
				return MHD_NO;
			if (st->body != NULL) {
				memcpy(nb, st->body, st->len);
				sodium_memzero(st->body, st->len);
				free(st->body);
			}
			st->body = nb;
			st->cap = ncap;
		}
		memcpy(st->body + st->len, upload_data, n);
		st->len += n;
		return MHD_YES;
	}
	if (st->rejected)
		return MHD_YES;
	if (st->too_large) {
		char msg[96];

		snprintf(msg, sizeof(msg), "request body larger than %zu bytes",
		    st->limit);
		return reject_early(conn, st, PII_ERR_TOO_LARGE, "body", msg);
	}

	if (srv->client_certs) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		struct conn_state *cs = ci != NULL ? ci->socket_context : NULL;

		if (cs != NULL) {
			if (!cs->checked) {
				peer_cert_name(conn, cs->peer_name,
				    sizeof(cs->peer_name));
				cs->checked = 1;
			}
			if (cs->peer_name[0] != '\0')
				peer = cs->peer_name;
		}
	}
	client_addr(conn, st->addr, sizeof(st->addr));
	memset(&st->req, 0, sizeof(st->req));
	memset(&st->resp, 0, sizeof(st->resp));
	/* method and url stay valid until the request completes */
	st->req.method = method;
	st->req.path = url;
	st->req.body = st->body != NULL ? st->body : (const unsigned char *)"";
	if (st->body != NULL)
		st->body[st->len] = '\0';
	st->req.body_len = st->len;
	st->req.request_id = st->request_id;
	st->req.peer_cert_name = peer;
	st->req.client_addr = st->addr;
	st->req.conn = conn;
	st->conn = conn;
	pthread_mutex_lock(&srv->mu);
	if (!srv->stopping && srv->nworkers > 0) {
		st->handed = 1;
		st->next = NULL;
		MHD_suspend_connection(conn);
		if (srv->tail != NULL)
			srv->tail->next = st;
		else
			srv->head = st;
		srv->tail = st;
		pthread_cond_signal(&srv->cv);
		pthread_mutex_unlock(&srv->mu);
		return MHD_YES;
	}
	pthread_mutex_unlock(&srv->mu);
	/* stopping: answer here */
	run_handler(srv, st);
	return queue_response(conn, st, &st->resp);
}

/* Run the handler for st and wipe the body it read. */
static void
run_handler(struct pii_http_server *srv, struct req_state *st)
{
	srv->fn(srv->ctx, &st->req, &st->resp);
	if (st->body != NULL) {
		sodium_memzero(st->body, st->len);
		free(st->body);
		st->body = NULL;
		st->len = st->cap = 0;
	}
}

static void *
worker(void *arg)
{
	struct pii_http_server *srv = arg;
	struct req_state *st;

	pthread_mutex_lock(&srv->mu);
	for (;;) {
		while (srv->head == NULL && !srv->stopping)
			pthread_cond_wait(&srv->cv, &srv->mu);
		if (srv->head == NULL)
			break;   /* stopping, and nothing left */
		st = srv->head;
		srv->head = st->next;
		if (srv->head == NULL)
			srv->tail = NULL;
		pthread_mutex_unlock(&srv->mu);
		run_handler(srv, st);
		st->handed = 2;
		MHD_resume_connection(st->conn);
		pthread_mutex_lock(&srv->mu);
	}
	pthread_mutex_unlock(&srv->mu);
	return NULL;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct pii_http_server *srv = cls;
	struct req_state *st = *con_cls;

	(void)conn;
	if (st == NULL)
		return;
	pii_metrics_observe(srv->metrics, st->route != NULL ? st->route :
	    (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "other" : "aborted"),
	    st->status, elapsed(&st->start));
	if (st->body != NULL) {
		sodium_memzero(st->body, st->len);
		free(st->body);
	}
	free(st);
	*con_cls = NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	/* MHD messages concern sockets and TLS, never request bodies. */
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	pii_log(PII_LOG_DEBUG, "event=mhd message=\"%s\"", line);
}

static void
wipe_free(char *s, size_t len)
{
	if (s != NULL) {
		sodium_memzero(s, len);
		free(s);
	}
}

void
pii_http_stop(struct pii_http_server *srv)
{
	unsigned int i;

	if (srv == NULL)
		return;
	if (srv->daemon != NULL) {
		/* stop accepting; the listening socket is ours to close */
		MHD_socket ls = MHD_quiesce_daemon(srv->daemon);

		if (ls != MHD_INVALID_SOCKET)
			close(ls);
	}
	if (srv->sync_ok) {
		/* workers finish what is queued (resuming those connections),
		 * then leave */
		pthread_mutex_lock(&srv->mu);
		srv->stopping = 1;
		pthread_cond_broadcast(&srv->cv);
		pthread_mutex_unlock(&srv->mu);
		for (i = 0; i < srv->nworkers; i++)
			pthread_join(srv->workers[i], NULL);
	}
	if (srv->daemon != NULL)
		MHD_stop_daemon(srv->daemon);
	if (srv->sync_ok) {
		pthread_mutex_destroy(&srv->mu);
		pthread_cond_destroy(&srv->cv);
	}
	free(srv->workers);
	free(srv->cert_pem);
	free(srv->ca_pem);
	wipe_free(srv->key_pem, srv->key_pem_len);
	free(srv);
}

uint16_t
pii_http_port(const struct pii_http_server *srv)
{
	return srv->port;
}

int
pii_http_start(const struct pii_http_config *cfg, pii_http_handler_fn fn,
    pii_http_limit_fn limit, void *ctx, struct pii_metrics *metrics,
    struct pii_http_server **out, struct pii_errinfo *ei)
{
	struct pii_http_server *srv = NULL;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	unsigned int io_threads, i;
	const union MHD_DaemonInfo *di;
	struct MHD_OptionItem opts[16];
	size_t no = 0;
	int r = PII_ERR_CONFIG;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, cfg->address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(cfg->port);
	} else if (inet_pton(AF_INET6, cfg->address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "address",
		    "listen address must be a numeric IPv4 or IPv6 address");
	}
	if (cfg->cert_file == NULL && !pii_http_is_loopback(cfg->address))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "tls",
		    "refusing to serve plain HTTP on non-loopback address %s; "
		    "configure tls.cert_file and tls.key_file", cfg->address);
	if ((cfg->cert_file == NULL) != (cfg->key_file == NULL))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "tls",
		    "tls.cert_file and tls.key_file go together");
	if (cfg->client_ca_file != NULL && cfg->cert_file == NULL)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "tls.client_ca_file",
		    "client certificates need TLS");

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return PII_ERR_NOMEM;
	srv->fn = fn;
	srv->limit = limit;
	srv->ctx = ctx;
	srv->metrics = metrics;
	srv->max_body = cfg->max_body ? cfg->max_body : 65536;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->cv, NULL);
	srv->sync_ok = 1;

	if (cfg->cert_file != NULL) {
		if (pii_read_small_file(cfg->cert_file, MAX_PEM_BYTES,
		    &srv->cert_pem, NULL) != 0) {
			r = pii_errinfo_set(ei, PII_ERR_CONFIG, "tls.cert_file",
			    "cannot read %s", cfg->cert_file);
			goto out;
		}
		if (pii_read_small_file(cfg->key_file, MAX_PEM_BYTES,
		    &srv->key_pem, &srv->key_pem_len) != 0) {
			r = pii_errinfo_set(ei, PII_ERR_CONFIG, "tls.key_file",
			    "cannot read %s", cfg->key_file);
			goto out;
		}
		flags |= MHD_USE_TLS;
		srv->tls = 1;
		opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cert_pem };
		opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key_pem };
		opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
		    (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" };
		if (cfg->client_ca_file != NULL) {
			if (pii_read_small_file(cfg->client_ca_file, MAX_PEM_BYTES,
			    &srv->ca_pem, NULL) != 0) {
				r = pii_errinfo_set(ei, PII_ERR_CONFIG,
				    "tls.client_ca_file", "cannot read %s",
				    cfg->client_ca_file);
				goto out;
			}
			opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, srv->ca_pem };
			srv->client_certs = 1;
		}
	}
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	/* event-loop threads for I/O and TLS; the handlers run on workers */
	io_threads = cfg->threads > 1 ? (cfg->threads + 3) / 4 : 1;
	if (io_threads > 1)
		opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
		    io_threads, NULL };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
	    cfg->max_connections ? cfg->max_connections : 256, NULL };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    cfg->max_per_ip ? cfg->max_per_ip : 64, NULL };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
	    cfg->timeout_seconds ? cfg->timeout_seconds : 30, NULL };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
	    (intptr_t)on_completed, srv };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
	    (intptr_t)on_connection, NULL };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER,
	    (intptr_t)mhd_log, NULL };
	opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

	srv->daemon = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request,
	    srv, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (srv->daemon == NULL) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "listen",
		    "cannot listen on %s port %u (address in use, or bad TLS "
		    "certificate or key)", cfg->address, cfg->port);
		goto out;
	}
	srv->workers = calloc(cfg->threads ? cfg->threads : 1,
	    sizeof(*srv->workers));
	if (srv->workers == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < (cfg->threads ? cfg->threads : 1); i++) {
		if (pthread_create(&srv->workers[i], NULL, worker, srv) != 0) {
			r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL,
			    "cannot start worker threads");
			goto out;
		}
		srv->nworkers++;
	}
	di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di != NULL ? di->port : cfg->port;
	*out = srv;
	srv = NULL;
	r = 0;
out:
	pii_http_stop(srv);
	return r;
}

static size_t
admin_limit(void *ctx, const char *method, const char *path)
{
	(void)ctx;
	(void)method;
	(void)path;
	return 1024;
}

int
pii_http_start_with_admin(const struct pii_http_config *api,
    pii_http_handler_fn api_fn, pii_http_limit_fn api_limit,
    const char *admin_address, uint16_t admin_port, pii_http_handler_fn admin_fn,
    void *ctx, struct pii_metrics *metrics, struct pii_http_server **api_out,
    struct pii_http_server **admin_out, struct pii_errinfo *ei)
{
	struct pii_http_server *a = NULL, *b = NULL;
	struct pii_http_config hc;
	int r;

	if ((r = pii_http_start(api, api_fn, api_limit, ctx, metrics, &a, ei)) != 0)
		return r;
	if (admin_address != NULL) {
		hc = *api;
		hc.address = admin_address;
		hc.port = admin_port;
		hc.client_ca_file = NULL;
		hc.threads = 1;
		hc.max_connections = 64;
		hc.max_per_ip = 16;
		hc.max_body = 1024;
		if ((r = pii_http_start(&hc, admin_fn, admin_limit, ctx, metrics, &b,
		    ei)) != 0) {
			pii_http_stop(a);
			return r;
		}
	}
	*api_out = a;
	*admin_out = b;
	return 0;
}

int
pii_http_check_plain(const char *tls_cert_file, const char *address,
    const char *admin_address, struct pii_errinfo *ei)
{
	if (tls_cert_file == NULL && (!pii_http_is_loopback(address) ||
	    (admin_address != NULL && !pii_http_is_loopback(admin_address))))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "tls",
		    "refusing plain HTTP on a non-loopback address; configure "
		    "tls.cert_file and tls.key_file or listen on 127.0.0.1");
	return 0;
}
