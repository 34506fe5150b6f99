/*
 * vault_export_html.h - a data subject's export bundle as one human-readable
 * HTML page: the answer to an access request (GDPR Art. 15).
 *
 * The bundle is the JSON export, format "piivault-export v1":
 *
 *   { "format": "piivault-export v1", "request_id": S, "subject_token": S,
 *     "generated_at": S, "subject": { "status": S, "created_at": S },
 *     "values": [ { "category": S, "value": S, "token": S, "source": S,
 *                   "first_seen": S, "last_seen": S } ],
 *     "objections": [ { "purpose": S, "since": S } ],
 *     "access_history": [ { "at": S, "actor": S, "on_behalf_of": S|null,
 *                   "role": S|null, "action": S, "purpose": S|null,
 *                   "ticket": S|null, "decision": S, "reason": S,
 *                   "categories": [S] } ] }
 *
 * It is checked strictly before anything is written: every key above is
 * required (the four "S|null" ones may be null or absent), every type is
 * as shown, and a key not listed is refused at every level, so that the
 * renderer and the producer stay in step.
 *
 * The page is self-contained (no script, no remote load: its
 * Content-Security-Policy forbids both) and every string of the bundle is
 * HTML-escaped, control characters shown as U+FFFD, because values are
 * attacker-controlled.  Values are grouped by category, then by source,
 * both in byte order; within a source, and in the other sections, entries
 * keep the bundle's order.  The function is pure: the same bundle gives the
 * same bytes.
 */
#ifndef VAULT_EXPORT_HTML_H
#define VAULT_EXPORT_HTML_H

#include <stddef.h>

#include <jansson.h>

#include "../common/err.h"

#define VAULT_EXPORT_FORMAT "piivault-export v1"
/* Limits of a bundle (PII_ERR_TOO_LARGE beyond them). */
#define VAULT_EXPORT_MAX_STRING     65536       /* bytes of any string */
#define VAULT_EXPORT_MAX_ITEMS      1000000     /* entries of each array (the
                                                   * most export_max_history allows) */
#define VAULT_EXPORT_MAX_CATEGORIES 64          /* categories of one access */
#define VAULT_EXPORT_HTML_MAX       (256u << 20) /* bytes of the page */

/* Render bundle (borrowed) as one HTML page.  *out is new (malloc,
 * NUL-terminated; it holds plaintext PII: release it with
 * vault_export_html_free), *outlen its length.  PII_ERR_BAD_REQUEST, with
 * ei->field naming the JSON path ("values[2].source"), if bundle does not
 * follow the format; PII_ERR_TOO_LARGE past a limit above; PII_ERR_NOMEM. */
int vault_export_html(const json_t *bundle, char **out, size_t *outlen,
    struct pii_errinfo *ei);

/* Wipe and release a page from vault_export_html.  Accepts NULL. */
void vault_export_html_free(char *html, size_t len);

#endif
