/*
 * proxy_server.h - the running pii-proxy: what every request handler shares.
 */
#ifndef PROXY_SERVER_H
#define PROXY_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "../audit/audit_log.h"
#include "../common/http.h"
#include "../common/metrics.h"
#include "../policies/policy.h"
#include "proxy_cache.h"
#include "proxy_config.h"
#include "proxy_jwt.h"
#include "proxy_store.h"
#include "proxy_vault.h"

/* The subject-rights routes the proxy forwards to the vault. */
#define PROXY_DSR_ROUTES 10

/* What SIGHUP reloads: the policy and the identity provider's keys.  A
 * request holds a reference for its whole life, so a reload never frees
 * what a request is using. */
struct proxy_rules {
	struct pol_policy *policy;
	struct pj_jwks *jwks;            /* NULL without oidc */
	atomic_int refs;
	char loaded_at[32];
};

struct proxy_server {
	const struct proxy_config *cfg;  /* borrowed */
	pthread_mutex_t rules_mu;
	struct proxy_rules *rules;       /* current; swapped by proxy_reload */
	struct proxy_store *store;
	struct audit_log *audit;
	struct proxy_vault *vault;
	struct proxy_cache *keys;        /* verified API keys -> person, role */
	struct proxy_cache *seen;        /* person + subject seen in the last minutes */
	struct pii_metrics *metrics;
	struct pii_http_server *api, *admin;
	pthread_mutex_t notify_mu;
	atomic_ullong audit_failures, vault_failures, db_failures;
	atomic_ullong denied, allowed, rate_limited, breakglass, notify_failures;
	atomic_ullong reloads, reload_failures;
	atomic_ullong dsr_forwarded[PROXY_DSR_ROUTES];   /* by route (proxy_dsr.c) */
};

/* The authenticated person behind a request. */
struct proxy_caller {
	char user[PROXY_NAME_MAX];
	const char *roles[PJ_MAX_ROLES];
	char role_buf[PJ_MAX_ROLES][64];
	size_t nroles;
	const char *method;              /* "apikey" | "oidc" */
	const char *request_id;
};

/* Load the policy (and JWKS) of cfg into a new rules set; ei names the
 * file and JSON path of a fault. */
int proxy_rules_load(const struct proxy_config *cfg, struct proxy_rules **out,
    struct pii_errinfo *ei);
/* Replace the current rules; on failure the old ones stay and ei says why. */
int proxy_reload(struct proxy_server *ps, struct pii_errinfo *ei);
struct proxy_rules *proxy_rules_get(struct proxy_server *ps);
void proxy_rules_put(struct proxy_rules *r);

int proxy_server_start(struct proxy_server *ps, struct pii_errinfo *ei);
void proxy_server_stop(struct proxy_server *ps);

/* Break-glass notification: the event as one JSON object, appended to the
 * configured file (fsync'ed) and POSTed to the configured URL.  0 only if
 * every configured hook took it. */
int proxy_notify(struct proxy_server *ps, const char *json_line);

#endif
