/*
 * proxy_notify.c - break-glass notifications.
 *
 * An event is one JSON object without PII (who, role, categories, purpose,
 * reason, request id; the subject only by token).  It is appended as one
 * line to the configured file and fsync'ed, and POSTed to the configured
 * URL; the access goes ahead only if every configured hook took it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../common/keyfile.h"
#include "../common/log.h"
#include "proxy_server.h"

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static int
notify_file(const char *path, const char *line)
{
	size_t len = strlen(line);
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return PII_ERR_IO;
	if (pii_write_all(fd, line, len) != 0 || pii_write_all(fd, "\n", 1) != 0 ||
	    fsync(fd) != 0)
		r = PII_ERR_IO;
	if (close(fd) != 0)
		r = PII_ERR_IO;
	return r;
}

static int
notify_url(const struct proxy_notify_cfg *n, const char *line)
{
	struct curl_slist *hdrs = NULL;
	long status = 0;
	CURLcode cc;
	CURL *h;

	if ((h = curl_easy_init()) == NULL)
		return PII_ERR_NOMEM;
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, n->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)n->timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, line);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	if (n->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, n->ca_file);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return cc == CURLE_OK && status >= 200 && status < 300 ? 0 : PII_ERR_IO;
}

int
proxy_notify(struct proxy_server *ps, const char *line)
{
	const struct proxy_notify_cfg *n = &ps->cfg->notify;
	int r = 0;

	if (!ps->cfg->has_notify)
		return PII_ERR_CONFIG;
	if (n->file != NULL) {
		pthread_mutex_lock(&ps->notify_mu);
		r = notify_file(n->file, line);
		pthread_mutex_unlock(&ps->notify_mu);
		if (r != 0) {
			pii_log(PII_LOG_ERROR, "event=notify_file_failed");
			return r;
		}
	}
	if (n->url != NULL && (r = notify_url(n, line)) != 0)
		pii_log(PII_LOG_ERROR, "event=notify_url_failed");
	return r;
}
