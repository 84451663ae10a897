/* Replays the shared test vectors (every tests/vectors/NAME.json) through the C ABI's scim_request_handle.
 *
 * Semantics as in tests/vectors/README.md, with tests/vectors.rs as the reference. The
 * engine serves a directory below `/scim/v2/<dir-id>` and wants its bearer token, so per
 * scenario this runner opens a new in-memory engine, creates one directory (settings
 * from the scenario's `config`), issues its token, sets `${base}` to the directory's
 * `tenant_url`, prefixes every request path with `/scim/v2/<dir-id>` and adds
 * `Authorization: Bearer <secret>` (no vector sends its own).
 *
 * Usage: test_vectors [DIR]   (default tests/vectors). Prints each failing step with
 * its mismatches to stderr, then `N passed, M failed` (steps) on stdout. */
#define _POSIX_C_SOURCE 200809L
#include "json.h"
#include "scim.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ----- small helpers ----------------------------------------------------------------- */

/* A list of messages (mismatches or vector errors). */
typedef struct {
  json_buf text;
  int count;
} errors;

static void err_add(errors *e, const char *fmt, ...) {
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  json_buf_adds(&e->text, "    - ");
  json_buf_adds(&e->text, line);
  json_buf_adds(&e->text, "\n");
  e->count++;
}

/* Compact JSON text, cut to 120 bytes for messages (the caller frees it). */
static char *short_text(const json *v) {
  json_buf b = {0};
  json_write(&b, v);
  if (b.len > 120) {
    b.len = 120;
    b.data[120] = '\0';
    json_buf_adds(&b, "...");
  }
  return b.data;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  json_buf b = {0};
  char chunk[65536];
  size_t n;
  json_buf_add(&b, "", 0);
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) json_buf_add(&b, chunk, n);
  fclose(f);
  *len = b.len;
  return b.data;
}

static int is_string(const json *v) { return v && v->type == JSON_STRING; }

static const char *str_or(const json *v, const char *dflt) {
  return is_string(v) ? v->text : dflt;
}

/* ----- variables --------------------------------------------------------------------- */

typedef struct {
  char **names, **values;
  size_t len;
} vars;

static const char *var_get(const vars *vs, const char *name, size_t n) {
  for (size_t i = 0; i < vs->len; i++)
    if (strlen(vs->names[i]) == n && memcmp(vs->names[i], name, n) == 0) return vs->values[i];
  return NULL;
}

static void var_set(vars *vs, const char *name, const char *value) {
  for (size_t i = 0; i < vs->len; i++)
    if (strcmp(vs->names[i], name) == 0) {
      free(vs->values[i]);
      vs->values[i] = strdup(value);
      return;
    }
  vs->names = realloc(vs->names, (vs->len + 1) * sizeof *vs->names);
  vs->values = realloc(vs->values, (vs->len + 1) * sizeof *vs->values);
  vs->names[vs->len] = strdup(name);
  vs->values[vs->len] = strdup(value);
  vs->len++;
}

static void vars_free(vars *vs) {
  for (size_t i = 0; i < vs->len; i++) {
    free(vs->names[i]);
    free(vs->values[i]);
  }
  free(vs->names);
  free(vs->values);
  memset(vs, 0, sizeof *vs);
}

static int is_var_name(const char *s, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++)
    if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
          (s[i] >= 'A' && s[i] <= 'Z')))
      return 0;
  return 1;
}

/* Replace every `${name}` of `s` into `out`; an unknown variable is an error (returns 0
 * and writes a message to `why`). */
static int subst(const char *s, size_t len, const vars *vs, json_buf *out, char *why,
                 size_t why_len) {
  size_t i = 0;
  json_buf_add(out, "", 0);
  while (i < len) {
    const char *start = NULL;
    for (size_t j = i; j + 1 < len; j++)
      if (s[j] == '$' && s[j + 1] == '{') {
        start = s + j;
        break;
      }
    if (!start) break;
    json_buf_add(out, s + i, (size_t)(start - (s + i)));
    const char *name = start + 2;
    const char *end = memchr(name, '}', len - (size_t)(name - s));
    if (!end) {
      snprintf(why, why_len, "unterminated ${ in \"%.*s\"", (int)len, s);
      return 0;
    }
    size_t n = (size_t)(end - name);
    const char *v = is_var_name(name, n) ? var_get(vs, name, n) : NULL;
    if (!v) {
      snprintf(why, why_len, "unknown variable ${%.*s} in \"%.*s\"", (int)n, name, (int)len, s);
      return 0;
    }
    json_buf_adds(out, v);
    i = (size_t)(end + 1 - s);
  }
  json_buf_add(out, s + i, len - i);
  return 1;
}

/* Substitute in every string value (never in keys) of a copy of `v`; NULL on error. */
static int subst_in_place(json *v, const vars *vs, char *why, size_t why_len) {
  if (v->type == JSON_STRING) {
    json_buf b = {0};
    if (!subst(v->text, v->len, vs, &b, why, why_len)) {
      json_buf_free(&b);
      return 0;
    }
    json_set_string(v, b.data, b.len);
    return 1;
  }
  for (json *e = v->child; e; e = e->next)
    if (!subst_in_place(e, vs, why, why_len)) return 0;
  return 1;
}

static json *subst_value(const json *v, const vars *vs, char *why, size_t why_len) {
  json *c = json_clone(v);
  if (!subst_in_place(c, vs, why, why_len)) {
    json_free(c);
    return NULL;
  }
  return c;
}

/* ----- structural validation (typos must not silently skip an assertion) ------------- */

static int check_keys(const json *obj, const char *const *allowed, const char *what, errors *e) {
  int ok = 1;
  for (const json *m = obj->child; m; m = m->next) {
    int found = 0;
    for (const char *const *a = allowed; *a; a++) found |= strcmp(m->key, *a) == 0;
    if (!found) {
      err_add(e, "%s: unknown key \"%s\"", what, m->key);
      ok = 0;
    }
  }
  return ok;
}

static int is_type_matcher(const char *s) {
  return strcmp(s, "$any") == 0 || strcmp(s, "$string") == 0 || strcmp(s, "$number") == 0 ||
         strcmp(s, "$datetime") == 0;
}

/* `{"$contains": [...]}` or `{"$unordered": [...]}`: its kind, else NULL. */
static const char *array_matcher(const json *o) {
  if (o->type != JSON_OBJECT || o->count != 1 || o->child->type != JSON_ARRAY) return NULL;
  if (strcmp(o->child->key, "$contains") == 0) return "$contains";
  if (strcmp(o->child->key, "$unordered") == 0) return "$unordered";
  return NULL;
}

static int validate_matcher(const json *v, errors *e) {
  if (v->type == JSON_STRING && v->text[0] == '$' && v->text[1] != '{') {
    if (is_type_matcher(v->text)) return 1;
    err_add(e, "expect.body: unknown matcher \"%s\"", v->text);
    return 0;
  }
  if (v->type == JSON_OBJECT && array_matcher(v)) v = v->child;
  int ok = 1;
  for (const json *c = v->child; c; c = c->next) {
    if (v->type == JSON_OBJECT && strcmp(c->key, "$absent") == 0) {
      int names = c->type == JSON_ARRAY;
      for (const json *n = c->child; names && n; n = n->next) names = n->type == JSON_STRING;
      if (!names) {
        err_add(e, "expect.body: \"$absent\" must be an array of key names");
        ok = 0;
      }
    } else if (v->type == JSON_OBJECT &&
               (strcmp(c->key, "$contains") == 0 || strcmp(c->key, "$unordered") == 0)) {
      err_add(e, "expect.body: %s must be the only key and hold an array", c->key);
      ok = 0;
    } else {
      ok &= validate_matcher(c, e);
    }
  }
  return ok;
}

/* Is every ${name} in the string values of `v` among `defined`? */
static int refs_defined(const json *v, const vars *defined, errors *e) {
  if (v->type == JSON_STRING) {
    const char *s = v->text;
    while ((s = strstr(s, "${")) != NULL) {
      const char *end = strchr(s + 2, '}');
      if (!end) break;
      if (!var_get(defined, s + 2, (size_t)(end - s - 2))) {
        err_add(e, "uses ${%.*s} before any step captures it", (int)(end - s - 2), s + 2);
        return 0;
      }
      s = end + 1;
    }
    return 1;
  }
  for (const json *c = v->child; c; c = c->next)
    if (!refs_defined(c, defined, e)) return 0;
  return 1;
}

static int all_strings(const json *obj) {
  for (const json *m = obj->child; m; m = m->next)
    if (m->type != JSON_STRING) return 0;
  return 1;
}

/* Mirrors validate_scenario in tests/vectors.rs. */
static int validate_scenario(const json *v, errors *e) {
  static const char *const top_keys[] = {"name", "description", "config", "steps", NULL};
  static const char *const config_keys[] = {"strict", "cursor_timeout_secs", NULL};
  static const char *const step_keys[] = {"name", "request", "expect", "capture", NULL};
  static const char *const request_keys[] = {"method", "path",  "query",
                                             "headers", "body", "raw_body", NULL};
  static const char *const expect_keys[] = {"status", "headers", "body", "empty_body", NULL};
  if (v->type != JSON_OBJECT) {
    err_add(e, "scenario is not an object");
    return 0;
  }
  int ok = check_keys(v, top_keys, "scenario", e);
  if (!is_string(json_get(v, "name"))) err_add(e, "scenario: \"name\" must be a string"), ok = 0;
  const json *config = json_get(v, "config");
  if (config) {
    if (config->type != JSON_OBJECT) {
      err_add(e, "config must be an object");
      ok = 0;
    } else {
      ok &= check_keys(config, config_keys, "config", e);
      const json *strict = json_get(config, "strict");
      if (strict && strict->type != JSON_BOOL) err_add(e, "config.strict must be a boolean"), ok = 0;
      const json *timeout = json_get(config, "cursor_timeout_secs");
      if (timeout && (timeout->type != JSON_NUMBER || timeout->number < 0))
        err_add(e, "config.cursor_timeout_secs must be a non-negative integer"), ok = 0;
    }
  }
  const json *steps = json_get(v, "steps");
  if (!steps || steps->type != JSON_ARRAY || steps->count == 0) {
    err_add(e, "scenario: \"steps\" must be a non-empty array");
    return 0;
  }
  vars defined = {0};
  var_set(&defined, "base", "");
  int i = 0;
  for (const json *s = steps->child; s; s = s->next) {
    i++;
    errors se = {{0}, 0};
    if (s->type != JSON_OBJECT) {
      err_add(&se, "not an object");
    } else {
      check_keys(s, step_keys, "step", &se);
      const json *req = json_get(s, "request"), *exp = json_get(s, "expect");
      const json *cap = json_get(s, "capture");
      if (req) refs_defined(req, &defined, &se);
      if (cap && cap->type == JSON_OBJECT) {
        for (const json *c = cap->child; c; c = c->next) {
          if (!is_var_name(c->key, c->key_len)) err_add(&se, "bad capture variable name \"%s\"", c->key);
          else var_set(&defined, c->key, "");
          if (!is_string(c) || !(c->text[0] == '/' || strncmp(c->text, "header:", 7) == 0))
            err_add(&se, "capture source of %s must be a JSON pointer or header:Name", c->key);
        }
      } else if (cap) {
        err_add(&se, "capture must be an object");
      }
      if (exp) refs_defined(exp, &defined, &se);
      if (!req || req->type != JSON_OBJECT) {
        err_add(&se, "\"request\" must be an object");
      } else {
        check_keys(req, request_keys, "request", &se);
        if (!is_string(json_get(req, "method"))) err_add(&se, "request.method must be a string");
        if (!is_string(json_get(req, "path"))) err_add(&se, "request.path must be a string");
        const json *q = json_get(req, "query"), *h = json_get(req, "headers");
        const json *raw = json_get(req, "raw_body"), *body = json_get(req, "body");
        if (q && !is_string(q)) err_add(&se, "request.query must be a string");
        if (h && (h->type != JSON_OBJECT || !all_strings(h)))
          err_add(&se, "request.headers must be an object of strings");
        if (raw && !is_string(raw)) err_add(&se, "request.raw_body must be a string");
        if (raw && body && body->type != JSON_NULL) err_add(&se, "request has both body and raw_body");
      }
      if (!exp || exp->type != JSON_OBJECT) {
        err_add(&se, "\"expect\" must be an object");
      } else {
        check_keys(exp, expect_keys, "expect", &se);
        const json *st = json_get(exp, "status"), *h = json_get(exp, "headers");
        const json *eb = json_get(exp, "empty_body"), *body = json_get(exp, "body");
        if (!st || st->type != JSON_NUMBER || strspn(st->text, "0123456789") != st->len)
          err_add(&se, "expect.status must be an integer");
        if (h && (h->type != JSON_OBJECT || !all_strings(h)))
          err_add(&se, "expect.headers must be an object of strings");
        if (eb && eb->type != JSON_BOOL) err_add(&se, "expect.empty_body must be a boolean");
        if (eb && body && body->type != JSON_NULL) err_add(&se, "expect has both body and empty_body");
        if (body) validate_matcher(body, &se);
      }
    }
    if (se.count) {
      const json *n = s->type == JSON_OBJECT ? json_get(s, "name") : NULL;
      err_add(e, "step %d (%s):\n%s", i, str_or(n, "?"), se.text.data);
      ok = 0;
    }
    json_buf_free(&se.text);
  }
  vars_free(&defined);
  return ok;
}

/* ----- the matcher ------------------------------------------------------------------- */

static int digits(const char *s, size_t from, size_t to) {
  for (size_t i = from; i < to; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

static int num(const char *s, size_t from, size_t to) {
  int n = 0;
  for (size_t i = from; i < to; i++) n = n * 10 + (s[i] - '0');
  return n;
}

/* RFC 3339 `date-time`: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM). */
static int is_rfc3339(const char *s, size_t len) {
  if (len < 20 || !digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 7) || s[7] != '-' ||
      !digits(s, 8, 10) || !(s[10] == 'T' || s[10] == 't') || !digits(s, 11, 13) ||
      s[13] != ':' || !digits(s, 14, 16) || s[16] != ':' || !digits(s, 17, 19))
    return 0;
  int month = num(s, 5, 7), day = num(s, 8, 10);
  if (month < 1 || month > 12 || day < 1 || day > 31 || num(s, 11, 13) > 23 ||
      num(s, 14, 16) > 59 || num(s, 17, 19) > 60)
    return 0;
  size_t i = 19;
  if (i < len && s[i] == '.') {
    size_t start = ++i;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    if (i == start) return 0;
  }
  const char *z = s + i;
  size_t rest = len - i;
  if (rest == 1) return z[0] == 'Z' || z[0] == 'z';
  return rest == 6 && (z[0] == '+' || z[0] == '-') && digits(z, 1, 3) && z[3] == ':' &&
         digits(z, 4, 6);
}

static void match_value(const json *expected, const json *actual, const char *at, errors *e);

static int matches(const json *expected, const json *actual) {
  errors e = {{0}, 0};
  match_value(expected, actual, "", &e);
  json_buf_free(&e.text);
  return e.count == 0;
}

/* Is there a one-to-one assignment of expected to actual elements? (backtracking) */
static int assign(const json *exp, const json **actual, size_t n, int *used) {
  if (!exp) return 1;
  for (size_t j = 0; j < n; j++) {
    if (!used[j] && matches(exp, actual[j])) {
      used[j] = 1;
      if (assign(exp->next, actual, n, used)) return 1;
      used[j] = 0;
    }
  }
  return 0;
}

static int unordered_match(const json *expected, const json *actual) {
  size_t n = actual->count;
  const json **items = malloc((n ? n : 1) * sizeof *items);
  int *used = calloc(n ? n : 1, sizeof *used);
  size_t k = 0;
  for (const json *a = actual->child; a; a = a->next) items[k++] = a;
  int ok = assign(expected->child, items, n, used);
  free(items);
  free(used);
  return ok;
}

/* `at` + "/" + the key escaped as a JSON pointer token. */
static char *child_path(const char *at, const char *key) {
  json_buf b = {0};
  json_buf_adds(&b, at);
  json_buf_adds(&b, "/");
  for (const char *k = key; *k; k++) {
    if (*k == '~') json_buf_adds(&b, "~0");
    else if (*k == '/') json_buf_adds(&b, "~1");
    else json_buf_add(&b, k, 1);
  }
  return b.data;
}

/* Subset-match `actual` (NULL: missing) against `expected` (already substituted); one
 * message per mismatch, prefixed with its location. */
static void match_value(const json *expected, const json *actual, const char *at, errors *e) {
  const char *loc = *at ? at : "/";
  char *es = short_text(expected), *as = actual ? short_text(actual) : NULL;
  if (expected->type == JSON_STRING && is_type_matcher(expected->text)) {
    const char *m = expected->text;
    int ok;
    if (!actual) {
      err_add(e, "%s: missing (expected %s)", loc, m);
      goto done;
    }
    if (strcmp(m, "$any") == 0) ok = actual->type != JSON_NULL;
    else if (strcmp(m, "$string") == 0) ok = actual->type == JSON_STRING;
    else if (strcmp(m, "$number") == 0) ok = actual->type == JSON_NUMBER;
    else ok = actual->type == JSON_STRING && is_rfc3339(actual->text, actual->len);
    if (!ok) err_add(e, "%s: expected %s, got %s", loc, m, as);
  } else if (expected->type == JSON_OBJECT) {
    const char *kind = array_matcher(expected);
    if (!actual) {
      err_add(e, "%s: missing (expected %s)", loc, es);
    } else if (kind) {
      const json *items = expected->child;
      if (actual->type != JSON_ARRAY) {
        err_add(e, "%s: expected an array (%s), got %s %s", loc, kind,
                json_type_name(actual->type), as);
      } else if (strcmp(kind, "$contains") == 0) {
        int i = 0;
        for (const json *x = items->child; x; x = x->next, i++) {
          int found = 0;
          for (const json *a = actual->child; a && !found; a = a->next) found = matches(x, a);
          if (!found) {
            char *xs = short_text(x);
            err_add(e, "%s: no element matches $contains[%d] %s", loc, i, xs);
            free(xs);
          }
        }
      } else if (actual->count != items->count) {
        err_add(e, "%s: expected %zu elements ($unordered), got %zu", loc, items->count,
                actual->count);
      } else if (!unordered_match(items, actual)) {
        err_add(e, "%s: elements do not match %s in any order", loc, es);
      }
    } else if (actual->type != JSON_OBJECT) {
      err_add(e, "%s: expected an object, got %s %s", loc, json_type_name(actual->type), as);
    } else {
      for (const json *m = expected->child; m; m = m->next) {
        if (strcmp(m->key, "$absent") == 0) {
          for (const json *n = m->child; n; n = n->next) {
            const json *got = n->type == JSON_STRING ? json_get(actual, n->text) : NULL;
            if (got) {
              char *gs = short_text(got);
              err_add(e, "%s/%s: must be absent, got %s", at, n->text, gs);
              free(gs);
            }
          }
        } else {
          char *p = child_path(at, m->key);
          match_value(m, json_get(actual, m->key), p, e);
          free(p);
        }
      }
    }
  } else if (expected->type == JSON_ARRAY) {
    if (!actual) {
      err_add(e, "%s: missing (expected %s)", loc, es);
    } else if (actual->type != JSON_ARRAY) {
      err_add(e, "%s: expected an array, got %s %s", loc, json_type_name(actual->type), as);
    } else if (actual->count != expected->count) {
      err_add(e, "%s: expected %zu elements, got %zu", loc, expected->count, actual->count);
    } else {
      size_t i = 0;
      const json *a = actual->child;
      for (const json *x = expected->child; x; x = x->next, a = a->next, i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%zu", at, i);
        match_value(x, a, p, e);
      }
    }
  } else if (!actual) {
    err_add(e, "%s: missing (expected %s)", loc, es);
  } else {
    int ok = expected->type == actual->type;
    if (ok && expected->type == JSON_NUMBER) ok = expected->number == actual->number;
    if (ok && expected->type == JSON_BOOL) ok = expected->boolean == actual->boolean;
    if (ok && expected->type == JSON_STRING)
      ok = expected->len == actual->len && memcmp(expected->text, actual->text, actual->len) == 0;
    if (!ok) err_add(e, "%s: expected %s, got %s", loc, es, as);
  }
done:
  free(es);
  free(as);
}

/* Match a response body (raw bytes) against an expected body. */
static void match_body(const json *expected, const uint8_t *body, size_t len, errors *e) {
  if (len == 0) {
    err_add(e, "body: expected JSON, got an empty body");
    return;
  }
  char why[256];
  json *actual = json_parse((const char *)body, len, why, sizeof why);
  if (!actual) {
    err_add(e, "body: not JSON (%s): %.*s", why, (int)(len > 500 ? 500 : len), body);
    return;
  }
  match_value(expected, actual, "", e);
  json_free(actual);
}

/* ----- the matcher's own test: a matcher bug must not make every vector pass --------- */

static int self_failures = 0;

static void expect_match(const char *expected, const char *actual, int want) {
  json *x = json_parse(expected, strlen(expected), NULL, 0);
  json *a = json_parse(actual, strlen(actual), NULL, 0);
  int got = x && a && matches(x, a);
  if (got != want) {
    fprintf(stderr, "matcher self-test: %s %s match %s\n", expected,
            want ? "should" : "should NOT", actual);
    self_failures++;
  }
  json_free(x);
  json_free(a);
}

static void matcher_self_test(void) {
  static const char *const ok[][2] = {
      {"{\"a\":1}", "{\"a\":1,\"b\":2}"},
      {"{}", "{\"x\":[1]}"},
      {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"c\",\"d\":1}}"},
      {"{\"n\":1}", "{\"n\":1.0}"},
      {"{\"z\":null}", "{\"z\":null}"},
      {"{\"$absent\":[\"password\"]}", "{\"userName\":\"x\"}"},
      {"{\"a\":{\"$absent\":[\"b\"]}}", "{\"a\":{\"c\":1},\"b\":1}"},
      {"[{\"v\":1},{\"v\":2}]", "[{\"v\":1,\"x\":0},{\"v\":2}]"},
      {"[]", "[]"},
      {"{\"$contains\":[{\"v\":2}]}", "[{\"v\":1},{\"v\":2}]"},
      {"{\"$contains\":[]}", "[]"},
      {"{\"$unordered\":[{\"v\":2},{\"v\":1}]}", "[{\"v\":1},{\"v\":2}]"},
      {"{\"$unordered\":[{},{\"v\":1}]}", "[{\"v\":1},{\"v\":2}]"},
      {"{\"a\":\"$any\"}", "{\"a\":0}"},
      {"{\"a\":\"$any\"}", "{\"a\":false}"},
      {"{\"a\":\"$string\"}", "{\"a\":\"\"}"},
      {"{\"a\":\"$number\"}", "{\"a\":3}"},
      {"{\"a\":\"$datetime\"}", "{\"a\":\"2024-05-01T12:00:00Z\"}"},
      {"{\"a\":\"$datetime\"}", "{\"a\":\"2024-05-01T12:00:00.123456+02:00\"}"},
      {"\"W/\\\"1\\\"\"", "\"W/\\\"1\\\"\""},
      {"{\"a/b\":{\"~\":true}}", "{\"a/b\":{\"~\":true}}"},
  };
  static const char *const bad[][2] = {
      {"{\"a\":1}", "{\"b\":1}"},
      {"{\"a\":1}", "{\"a\":2}"},
      {"{\"a\":1}", "{\"a\":\"1\"}"},
      {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"C\"}}"},
      {"{\"a\":{}}", "{\"a\":[]}"},
      {"{\"a\":1}", "[{\"a\":1}]"},
      {"{\"t\":true}", "{\"t\":\"true\"}"},
      {"{\"t\":true}", "{\"t\":false}"},
      {"{\"z\":null}", "{}"},
      {"{\"z\":null}", "{\"z\":0}"},
      {"{\"$absent\":[\"password\"]}", "{\"password\":\"x\"}"},
      {"{\"$absent\":[\"members\"]}", "{\"members\":[]}"},
      {"{\"$absent\":[\"members\"]}", "{\"members\":null}"},
      {"[{\"v\":1},{\"v\":2}]", "[{\"v\":2},{\"v\":1}]"},
      {"[{\"v\":1}]", "[{\"v\":1},{\"v\":2}]"},
      {"[]", "[1]"},
      {"{\"$contains\":[{\"v\":3}]}", "[{\"v\":1},{\"v\":2}]"},
      {"{\"$contains\":[{\"v\":1}]}", "{\"v\":1}"},
      {"{\"$unordered\":[{\"v\":1}]}", "[{\"v\":1},{\"v\":2}]"},
      {"{\"$unordered\":[{\"v\":1},{\"v\":1}]}", "[{\"v\":1},{\"v\":2}]"},
      {"{\"a\":\"$any\"}", "{\"a\":null}"},
      {"{\"a\":\"$any\"}", "{}"},
      {"{\"a\":\"$string\"}", "{\"a\":1}"},
      {"{\"a\":\"$number\"}", "{\"a\":\"3\"}"},
      {"{\"a\":\"$datetime\"}", "{\"a\":\"2024-05-01 12:00:00Z\"}"},
      {"{\"a\":\"$datetime\"}", "{\"a\":\"2024-13-01T12:00:00Z\"}"},
      {"{\"a\":\"$datetime\"}", "{\"a\":\"2024-05-01T12:00:00\"}"},
      {"{\"a\":\"$datetime\"}", "{\"a\":1714564800}"},
      {"\"abc\"", "\"ABC\""},
      {"\"a\\u0000b\"", "\"a\\u0000c\""},
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) expect_match(ok[i][0], ok[i][1], 1);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) expect_match(bad[i][0], bad[i][1], 0);

  vars vs = {0};
  var_set(&vs, "base", "https://example.com/scim/v2");
  var_set(&vs, "u1", "42");
  char why[256];
  json_buf b = {0};
  const char *s = "${base}/Users/${u1}";
  if (!subst(s, strlen(s), &vs, &b, why, sizeof why) ||
      strcmp(b.data, "https://example.com/scim/v2/Users/42") != 0)
    self_failures++, fprintf(stderr, "matcher self-test: subst\n");
  json_buf_free(&b);
  if (subst("${nope}", 7, &vs, &b, why, sizeof why) || subst("${u1", 4, &vs, &b, why, sizeof why))
    self_failures++, fprintf(stderr, "matcher self-test: subst accepts unknown/unterminated\n");
  json_buf_free(&b);
  const char *doc = "{\"k${u1}\":[\"${u1}\",1]}";
  json *v = json_parse(doc, strlen(doc), NULL, 0);
  json *sv = subst_value(v, &vs, why, sizeof why);
  json_write(&b, sv);
  if (strcmp(b.data, "{\"k${u1}\":[\"42\",1]}") != 0)
    self_failures++, fprintf(stderr, "matcher self-test: subst_value gave %s\n", b.data);
  json_buf_free(&b);
  json_free(sv);
  json_free(v);
  vars_free(&vs);

  const char *typo = "{\"name\":\"t\",\"steps\":[{\"request\":{\"method\":\"GET\",\"path\":\"/Users\"},"
                     "\"expect\":{\"status\":200,\"bdy\":{}}}]}";
  const char *fine = "{\"name\":\"t\",\"steps\":[{\"request\":{\"method\":\"POST\",\"path\":\"/Users\"},"
                     "\"expect\":{\"status\":201,\"headers\":{\"Location\":\"${base}/Users/${id}\"}},"
                     "\"capture\":{\"id\":\"/id\"}}]}";
  const char *early = "{\"name\":\"t\",\"steps\":[{\"request\":{\"method\":\"GET\",\"path\":\"/Users/${id}\"},"
                      "\"expect\":{\"status\":200}}]}";
  const char *matcher = "{\"name\":\"t\",\"steps\":[{\"request\":{\"method\":\"GET\",\"path\":\"/\"},"
                        "\"expect\":{\"status\":200,\"body\":{\"a\":\"$anything\"}}}]}";
  const char *docs[] = {typo, fine, early, matcher};
  int want[] = {0, 1, 0, 0};
  for (int i = 0; i < 4; i++) {
    errors e = {{0}, 0};
    json *d = json_parse(docs[i], strlen(docs[i]), NULL, 0);
    if (!d || validate_scenario(d, &e) != want[i])
      self_failures++, fprintf(stderr, "matcher self-test: validation of scenario %d\n", i);
    json_free(d);
    json_buf_free(&e.text);
  }
}

/* ----- running ----------------------------------------------------------------------- */

typedef struct {
  scim_engine *engine;
  char *dir_id;
  char *auth; /* "Bearer <secret>" */
} target;

/* A string member of a JSON text the library returned (the caller frees it). */
static char *member(const char *json_text, const char *key) {
  json *v = json_parse(json_text, strlen(json_text), NULL, 0);
  const json *m = json_get(v, key);
  char *s = is_string(m) ? strdup(m->text) : NULL;
  json_free(v);
  return s;
}

/* An engine with one directory like the bare provider the vectors were written against:
 * the RFC profile, and resources kept exactly as sent (no ws1b domain filled in).
 * cursor_timeout < 0: the provider's default. */
static int open_target(int strict, long cursor_timeout, target *t, char **base) {
  char *dir = NULL, *token = NULL, *secret = NULL;
  char spec[512], config[256];
  memset(t, 0, sizeof *t);
  snprintf(spec, sizeof spec,
           "{\"name\": \"vectors\", \"domain\": \"example.com\", \"idp\": \"generic\","
           " \"services\": [\"uem\"], \"mapping_profile\": \"rfc\","
           " \"settings\": {\"strict\": %s, \"fill_domain\": false}}",
           strict ? "true" : "false");
  if (cursor_timeout < 0)
    snprintf(config, sizeof config, "{\"public_url\": \"https://example.com\"}");
  else
    snprintf(config, sizeof config,
             "{\"public_url\": \"https://example.com\","
             " \"provider\": {\"cursor_timeout_secs\": %ld}}",
             cursor_timeout);
  if (scim_engine_open(NULL, config, &t->engine) != SCIM_RESULT_OK ||
      scim_directory_create(t->engine, spec, &dir) != SCIM_RESULT_OK) {
    fprintf(stderr, "setup failed: %s\n", scim_last_error());
    return 0;
  }
  t->dir_id = member(dir, "id");
  *base = member(dir, "tenant_url");
  scim_string_free(dir);
  if (scim_token_issue(t->engine, t->dir_id, 0, &token) != SCIM_RESULT_OK) {
    fprintf(stderr, "token failed: %s\n", scim_last_error());
    return 0;
  }
  secret = member(token, "secret");
  scim_string_free(token);
  if (!t->dir_id || !*base || !secret) return 0;
  t->auth = malloc(strlen(secret) + 8);
  sprintf(t->auth, "Bearer %s", secret);
  free(secret);
  return 1;
}

static void close_target(target *t) {
  scim_engine_free(t->engine);
  free(t->dir_id);
  free(t->auth);
}

/* Header `name` of a response (case-insensitive), or NULL. The library's strings are
   NUL-terminated beyond their length, so the value is a C string. */
static const char *header(const scim_response_view *r, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < r->headers_len; i++) {
    const scim_header *h = &r->headers[i];
    if (h->name.len == len && strncasecmp(h->name.data, name, len) == 0) return h->value.data;
  }
  return NULL;
}

/* What a request is built from, substituted; freed by request_free. */
typedef struct {
  json_buf method, path, query;
  char **names, **values;
  size_t nheaders;
  json_buf body;
} built;

static void built_free(built *b) {
  json_buf_free(&b->method);
  json_buf_free(&b->path);
  json_buf_free(&b->query);
  json_buf_free(&b->body);
  for (size_t i = 0; i < b->nheaders; i++) {
    free(b->names[i]);
    free(b->values[i]);
  }
  free(b->names);
  free(b->values);
}

static int build_request(const json *req, const vars *vs, const target *t, built *b, char *why,
                         size_t why_len) {
  memset(b, 0, sizeof *b);
  const char *m = str_or(json_get(req, "method"), ""), *p = str_or(json_get(req, "path"), "");
  const char *q = str_or(json_get(req, "query"), "");
  json_buf path = {0};
  if (!subst(m, strlen(m), vs, &b->method, why, why_len) ||
      !subst(p, strlen(p), vs, &path, why, why_len) ||
      !subst(q, strlen(q), vs, &b->query, why, why_len)) {
    json_buf_free(&path);
    return 0;
  }
  /* The engine serves the vector's paths below the directory's SCIM base. */
  json_buf_adds(&b->path, "/scim/v2/");
  json_buf_adds(&b->path, t->dir_id);
  json_buf_add(&b->path, path.data, path.len);
  json_buf_free(&path);

  const json *headers = json_get(req, "headers");
  size_t n = (headers ? headers->count : 0) + 2;
  b->names = calloc(n, sizeof *b->names);
  b->values = calloc(n, sizeof *b->values);
  int has_type = 0;
  for (const json *h = headers ? headers->child : NULL; h; h = h->next) {
    json_buf v = {0};
    if (!subst(h->text, h->len, vs, &v, why, why_len)) {
      json_buf_free(&v);
      return 0;
    }
    b->names[b->nheaders] = strdup(h->key);
    b->values[b->nheaders++] = v.data;
    has_type |= strcasecmp(h->key, "Content-Type") == 0;
  }
  const json *raw = json_get(req, "raw_body"), *body = json_get(req, "body");
  json_buf_add(&b->body, "", 0);
  if (is_string(raw)) {
    if (!subst(raw->text, raw->len, vs, &b->body, why, why_len)) return 0;
  } else if (body && body->type != JSON_NULL) {
    json *sb = subst_value(body, vs, why, why_len);
    if (!sb) return 0;
    json_write(&b->body, sb);
    json_free(sb);
  }
  if (b->body.len && !has_type) {
    b->names[b->nheaders] = strdup("Content-Type");
    b->values[b->nheaders++] = strdup("application/scim+json");
  }
  b->names[b->nheaders] = strdup("Authorization");
  b->values[b->nheaders++] = strdup(t->auth);
  return 1;
}

static void capture(const json *spec, const scim_response_view *r, vars *vs, errors *e) {
  json *doc = r->body_len ? json_parse((const char *)r->body, r->body_len, NULL, 0) : NULL;
  for (const json *c = spec->child; c; c = c->next) {
    const char *src = str_or(c, "");
    if (strncmp(src, "header:", 7) == 0) {
      const char *v = header(r, src + 7);
      if (v) var_set(vs, c->key, v);
      else err_add(e, "capture %s: %s not found in the response", c->key, src);
    } else {
      const json *v = doc ? json_pointer(doc, src) : NULL;
      if (!v) {
        err_add(e, "capture %s: %s not found in the response", c->key, src);
      } else if (v->type == JSON_STRING) {
        var_set(vs, c->key, v->text);
      } else {
        json_buf b = {0};
        json_write(&b, v);
        var_set(vs, c->key, b.data);
        json_buf_free(&b);
      }
    }
  }
  json_free(doc);
}

static void check_response(const json *exp, const scim_response_view *r, const vars *vs,
                           errors *e) {
  char why[512];
  const json *status = json_get(exp, "status");
  unsigned want = status ? (unsigned)status->number : 0;
  if (r->status != want) err_add(e, "status: expected %u, got %u", want, (unsigned)r->status);
  const json *headers = json_get(exp, "headers");
  for (const json *h = headers ? headers->child : NULL; h; h = h->next) {
    const char *got = header(r, h->key);
    const char *w = str_or(h, "");
    if (strcmp(w, "$absent") == 0) {
      if (got) err_add(e, "header %s: must be absent, got \"%s\"", h->key, got);
    } else if (strcmp(w, "$any") == 0) {
      if (!got) err_add(e, "header %s: missing (expected $any)", h->key);
    } else if (!got) {
      err_add(e, "header %s: missing (expected \"%s\")", h->key, w);
    } else {
      json_buf sw = {0};
      if (!subst(w, strlen(w), vs, &sw, why, sizeof why)) err_add(e, "header %s: %s", h->key, why);
      else if (strcmp(sw.data, got) != 0)
        err_add(e, "header %s: expected \"%s\", got \"%s\"", h->key, sw.data, got);
      json_buf_free(&sw);
    }
  }
  const uint8_t *body = r->body;
  size_t len = r->body_len;
  const json *empty = json_get(exp, "empty_body");
  if (empty && empty->type == JSON_BOOL && empty->boolean && len)
    err_add(e, "body: expected empty, got %.*s", (int)(len > 500 ? 500 : len), body);
  const json *eb = json_get(exp, "body");
  if (eb && eb->type != JSON_NULL) {
    json *sb = subst_value(eb, vs, why, sizeof why);
    if (!sb) err_add(e, "expect.body: %s", why);
    else match_body(sb, body, len, e);
    json_free(sb);
  }
}

/* The actual response, for a failure report. */
static void describe(const scim_response_view *r, json_buf *out) {
  char line[64];
  snprintf(line, sizeof line, "    actual: %u [", (unsigned)r->status);
  json_buf_adds(out, line);
  for (size_t i = 0; i < r->headers_len; i++) {
    json_buf_adds(out, i ? ", " : "");
    json_buf_add(out, r->headers[i].name.data, r->headers[i].name.len);
    json_buf_adds(out, ": ");
    json_buf_add(out, r->headers[i].value.data, r->headers[i].value.len);
  }
  json_buf_adds(out, "]\n");
  const uint8_t *body = r->body;
  size_t len = r->body_len;
  if (len == 0) {
    json_buf_adds(out, "      (empty)\n");
    return;
  }
  json *doc = json_parse((const char *)body, len, NULL, 0);
  json_buf pretty = {0};
  if (doc) json_write_pretty(&pretty, doc, 2);
  else json_buf_add(&pretty, (const char *)body, len);
  json_free(doc);
  json_buf_adds(out, "      ");
  for (size_t i = 0; i < pretty.len; i++) {
    json_buf_add(out, pretty.data + i, 1);
    if (pretty.data[i] == '\n') json_buf_adds(out, "      ");
  }
  json_buf_adds(out, "\n");
  json_buf_free(&pretty);
}

static int passed = 0, failed = 0;

static void run_scenario(const char *file, const json *v) {
  const char *name = str_or(json_get(v, "name"), file);
  const json *strict = json_pointer(v, "/config/strict");
  const json *timeout = json_pointer(v, "/config/cursor_timeout_secs");
  target t;
  char *base = NULL;
  const json *steps = json_get(v, "steps");
  if (!open_target(strict && strict->boolean, timeout ? (long)timeout->number : -1, &t, &base)) {
    fprintf(stderr, "%s › %s: cannot set up the engine\n", file, name);
    failed += (int)steps->count;
    close_target(&t);
    free(base);
    return;
  }
  vars vs = {0};
  var_set(&vs, "base", base);
  free(base);
  int i = 0;
  for (const json *step = steps->child; step; step = step->next) {
    i++;
    const char *sname = str_or(json_get(step, "name"), "?");
    built b;
    char why[512];
    if (!build_request(json_get(step, "request"), &vs, &t, &b, why, sizeof why)) {
      fprintf(stderr, "%s › %s › step %d \"%s\": cannot build request: %s\n\n", file, name, i,
              sname, why);
      failed++;
      built_free(&b);
      continue;
    }
    scim_header *hs = calloc(b.nheaders, sizeof *hs);
    for (size_t k = 0; k < b.nheaders; k++)
      hs[k] = (scim_header){{b.names[k], strlen(b.names[k])}, {b.values[k], strlen(b.values[k])}};
    scim_request req = {{b.method.data, b.method.len}, {b.path.data, b.path.len},
                        {b.query.data, b.query.len}, hs, b.nheaders,
                        b.body.len ? (const uint8_t *)b.body.data : NULL, b.body.len};
    scim_response *resp = NULL;
    scim_response_view view;
    const scim_response_view *r = NULL;
    errors e = {{0}, 0};
    if (scim_request_handle(t.engine, &req, &resp, &view) != SCIM_RESULT_OK) {
      err_add(&e, "scim_request_handle failed: %s", scim_last_error());
    } else {
      r = &view;
      /* Capture first: this step's expectations may use what it captured. */
      const json *cap = json_get(step, "capture");
      if (cap) capture(cap, r, &vs, &e);
      check_response(json_get(step, "expect"), r, &vs, &e);
    }
    if (e.count) {
      failed++;
      json_buf report = {0};
      if (r) describe(r, &report);
      fprintf(stderr, "%s › %s › step %d \"%s\": %s %s%s%s\n%s%s\n", file, name, i, sname,
              b.method.data, b.path.data, b.query.len ? "?" : "", b.query.data, e.text.data,
              report.data ? report.data : "");
      json_buf_free(&report);
    } else {
      passed++;
    }
    json_buf_free(&e.text);
    scim_response_free(resp);
    free(hs);
    built_free(&b);
  }
  vars_free(&vs);
  close_target(&t);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/vectors";
  matcher_self_test();
  if (self_failures) {
    printf("0 passed, %d failed (matcher self-test)\n", self_failures);
    return 1;
  }

  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "cannot open %s\n", dir);
    return 1;
  }
  char **files = NULL;
  size_t nfiles = 0;
  struct dirent *ent;
  while ((ent = readdir(d)) != NULL) {
    size_t n = strlen(ent->d_name);
    if (n > 5 && strcmp(ent->d_name + n - 5, ".json") == 0) {
      files = realloc(files, (nfiles + 1) * sizeof *files);
      files[nfiles++] = strdup(ent->d_name);
    }
  }
  closedir(d);
  qsort(files, nfiles, sizeof *files, by_name);
  if (nfiles == 0) fprintf(stderr, "no vectors in %s\n", dir), failed++;

  for (size_t i = 0; i < nfiles; i++) {
    char path[4096], why[256];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    char *text = read_file(path, &len);
    json *v = text ? json_parse(text, len, why, sizeof why) : NULL;
    errors e = {{0}, 0};
    if (!text) {
      fprintf(stderr, "%s: cannot read\n", files[i]);
      failed++;
    } else if (!v) {
      fprintf(stderr, "%s: not valid JSON: %s\n", files[i], why);
      failed++;
    } else if (!validate_scenario(v, &e)) {
      fprintf(stderr, "%s: malformed vector:\n%s\n", files[i], e.text.data);
      failed++;
    } else {
      run_scenario(files[i], v);
    }
    json_buf_free(&e.text);
    json_free(v);
    free(text);
    free(files[i]);
  }
  free(files);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
