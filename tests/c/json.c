/* A small JSON parser and writer for the C tests; see json.h. */
#include "json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper documents are refused rather than risking the stack. */
#define MAX_DEPTH 256

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fputs("json: out of memory\n", stderr);
    abort();
  }
  return p;
}

/* ----- buffer ------------------------------------------------------------------------ */

void json_buf_add(json_buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (b->len + n + 1 > cap) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
      fputs("json: out of memory\n", stderr);
      abort();
    }
    b->data = p;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void json_buf_adds(json_buf *b, const char *s) { json_buf_add(b, s, strlen(s)); }

void json_buf_free(json_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* ----- parser ------------------------------------------------------------------------ */

typedef struct {
  const unsigned char *s;
  size_t len, pos;
  char *err;
  size_t err_len;
  int failed;
} parser;

static void fail(parser *p, const char *fmt, ...) {
  if (p->failed) return;
  p->failed = 1;
  if (!p->err || !p->err_len) return;
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(p->err, p->err_len, "%s at byte %zu", msg, p->pos);
}

static void skip_ws(parser *p) {
  while (p->pos < p->len) {
    unsigned char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static json *new_value(json_type t) {
  json *v = xmalloc(sizeof *v);
  memset(v, 0, sizeof *v);
  v->type = t;
  return v;
}

static int literal(parser *p, const char *word) {
  size_t n = strlen(word);
  if (p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0) {
    p->pos += n;
    return 1;
  }
  return 0;
}

static void put_utf8(json_buf *b, uint32_t cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xC0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xE0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  json_buf_add(b, u, n);
}

static int hex4(parser *p, uint32_t *out) {
  if (p->len - p->pos < 4) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = p->s[p->pos + (size_t)i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return 0;
  }
  p->pos += 4;
  *out = v;
  return 1;
}

/* Length of the well-formed UTF-8 sequence at `s` (at most `n` bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t len;
  uint32_t cp, min;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07, min = 0x10000;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

/* A string token (the opening quote is at p->pos) into `out`. */
static int parse_string(parser *p, json_buf *out) {
  p->pos++;
  json_buf_add(out, "", 0);
  while (p->pos < p->len) {
    unsigned char c = p->s[p->pos];
    if (c == '"') {
      p->pos++;
      return 1;
    }
    if (c < 0x20) {
      fail(p, "control character in a string");
      return 0;
    }
    if (c != '\\') {
      size_t n = utf8_len(p->s + p->pos, p->len - p->pos);
      if (!n) {
        fail(p, "invalid UTF-8");
        return 0;
      }
      json_buf_add(out, (const char *)p->s + p->pos, n);
      p->pos += n;
      continue;
    }
    p->pos++;
    if (p->pos >= p->len) break;
    char e = (char)p->s[p->pos++];
    switch (e) {
      case '"': json_buf_add(out, "\"", 1); break;
      case '\\': json_buf_add(out, "\\", 1); break;
      case '/': json_buf_add(out, "/", 1); break;
      case 'b': json_buf_add(out, "\b", 1); break;
      case 'f': json_buf_add(out, "\f", 1); break;
      case 'n': json_buf_add(out, "\n", 1); break;
      case 'r': json_buf_add(out, "\r", 1); break;
      case 't': json_buf_add(out, "\t", 1); break;
      case 'u': {
        uint32_t cp, lo;
        if (!hex4(p, &cp)) {
          fail(p, "bad \\u escape");
          return 0;
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
          fail(p, "lone trailing surrogate");
          return 0;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (!(literal(p, "\\u") && hex4(p, &lo) && lo >= 0xDC00 && lo <= 0xDFFF)) {
            fail(p, "lone leading surrogate");
            return 0;
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        put_utf8(out, cp);
        break;
      }
      default:
        fail(p, "bad escape \\%c", e);
        return 0;
    }
  }
  fail(p, "unterminated string");
  return 0;
}

static int is_digit(parser *p) {
  return p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
}

static json *parse_number(parser *p) {
  size_t start = p->pos;
  if (p->s[p->pos] == '-') p->pos++;
  if (!is_digit(p)) {
    fail(p, "bad number");
    return NULL;
  }
  if (p->s[p->pos] == '0') p->pos++;
  else while (is_digit(p)) p->pos++;
  if (p->pos < p->len && p->s[p->pos] == '.') {
    p->pos++;
    if (!is_digit(p)) {
      fail(p, "bad number: digits expected after '.'");
      return NULL;
    }
    while (is_digit(p)) p->pos++;
  }
  if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    p->pos++;
    if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
    if (!is_digit(p)) {
      fail(p, "bad number: digits expected in the exponent");
      return NULL;
    }
    while (is_digit(p)) p->pos++;
  }
  json *v = new_value(JSON_NUMBER);
  v->len = p->pos - start;
  v->text = xmalloc(v->len + 1);
  memcpy(v->text, p->s + start, v->len);
  v->text[v->len] = '\0';
  v->number = strtod(v->text, NULL);
  return v;
}

static json *parse_value(parser *p, int depth);

/* Elements of an array or members of an object, up to `close`. */
static json *parse_container(parser *p, int depth, json_type t) {
  char close = t == JSON_ARRAY ? ']' : '}';
  json *v = new_value(t);
  json **tail = &v->child;
  p->pos++;
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == close) {
    p->pos++;
    return v;
  }
  for (;;) {
    json_buf key = {0};
    skip_ws(p);
    if (t == JSON_OBJECT) {
      if (p->pos >= p->len || p->s[p->pos] != '"') {
        fail(p, "member name expected");
        goto error;
      }
      if (!parse_string(p, &key)) goto error;
      skip_ws(p);
      if (p->pos >= p->len || p->s[p->pos] != ':') {
        json_buf_free(&key);
        fail(p, "':' expected");
        goto error;
      }
      p->pos++;
    }
    json *item = parse_value(p, depth + 1);
    if (!item) {
      json_buf_free(&key);
      goto error;
    }
    item->key = key.data;
    item->key_len = key.len;
    *tail = item;
    tail = &item->next;
    v->count++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->len && p->s[p->pos] == close) {
      p->pos++;
      return v;
    }
    fail(p, "',' or '%c' expected", close);
    goto error;
  }
error:
  json_free(v);
  return NULL;
}

static json *parse_value(parser *p, int depth) {
  if (depth > MAX_DEPTH) {
    fail(p, "nested too deeply");
    return NULL;
  }
  skip_ws(p);
  if (p->pos >= p->len) {
    fail(p, "unexpected end of input");
    return NULL;
  }
  unsigned char c = p->s[p->pos];
  if (c == '{') return parse_container(p, depth, JSON_OBJECT);
  if (c == '[') return parse_container(p, depth, JSON_ARRAY);
  if (c == '"') {
    json_buf b = {0};
    if (!parse_string(p, &b)) {
      json_buf_free(&b);
      return NULL;
    }
    json *v = new_value(JSON_STRING);
    v->text = b.data;
    v->len = b.len;
    return v;
  }
  if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p);
  int is_true = literal(p, "true");
  if (is_true || literal(p, "false")) {
    json *v = new_value(JSON_BOOL);
    v->boolean = is_true;
    return v;
  }
  if (literal(p, "null")) return new_value(JSON_NULL);
  fail(p, "unexpected character '%c'", c);
  return NULL;
}

json *json_parse(const char *text, size_t len, char *err, size_t err_len) {
  parser p = {(const unsigned char *)text, len, 0, err, err_len, 0};
  if (err && err_len) err[0] = '\0';
  if (!text) {
    fail(&p, "no input");
    return NULL;
  }
  json *v = parse_value(&p, 0);
  if (!v) return NULL;
  skip_ws(&p);
  if (p.pos != p.len) {
    fail(&p, "trailing characters");
    json_free(v);
    return NULL;
  }
  return v;
}

void json_free(json *v) {
  while (v) {
    json *next = v->next;
    json_free(v->child);
    free(v->text);
    free(v->key);
    free(v);
    v = next;
  }
}

static char *dup_bytes(const char *s, size_t n) {
  if (!s) return NULL;
  char *d = xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

json *json_clone(const json *v) {
  if (!v) return NULL;
  json *c = new_value(v->type);
  c->boolean = v->boolean;
  c->number = v->number;
  c->text = dup_bytes(v->text, v->len);
  c->len = v->len;
  c->key = dup_bytes(v->key, v->key_len);
  c->key_len = v->key_len;
  c->count = v->count;
  json **tail = &c->child;
  for (const json *e = v->child; e; e = e->next) {
    *tail = json_clone(e);
    tail = &(*tail)->next;
  }
  return c;
}

void json_set_string(json *v, char *s, size_t len) {
  free(v->text);
  v->text = s;
  v->len = len;
}

/* ----- access ------------------------------------------------------------------------ */

static const json *get_n(const json *obj, const char *key, size_t n) {
  const json *found = NULL;
  if (!obj || obj->type != JSON_OBJECT) return NULL;
  for (const json *m = obj->child; m; m = m->next)
    if (m->key_len == n && memcmp(m->key, key, n) == 0) found = m;
  return found;
}

const json *json_get(const json *obj, const char *key) { return get_n(obj, key, strlen(key)); }

const json *json_at(const json *arr, size_t i) {
  if (!arr || arr->type != JSON_ARRAY) return NULL;
  const json *e = arr->child;
  while (e && i--) e = e->next;
  return e;
}

const json *json_pointer(const json *root, const char *ptr) {
  const json *cur = root;
  if (*ptr == '\0') return root;
  if (*ptr != '/') return NULL;
  while (cur && *ptr == '/') {
    ptr++;
    size_t n = strcspn(ptr, "/");
    json_buf tok = {0};
    json_buf_add(&tok, "", 0);
    for (size_t i = 0; i < n; i++) {
      if (ptr[i] == '~' && i + 1 < n && (ptr[i + 1] == '0' || ptr[i + 1] == '1')) {
        json_buf_add(&tok, ptr[i + 1] == '0' ? "~" : "/", 1);
        i++;
      } else if (ptr[i] == '~') {
        json_buf_free(&tok);
        return NULL;
      } else {
        json_buf_add(&tok, ptr + i, 1);
      }
    }
    if (cur->type == JSON_OBJECT) {
      cur = get_n(cur, tok.data, tok.len);
    } else if (cur->type == JSON_ARRAY) {
      /* Digits only, no leading zero (RFC 6901). */
      int ok = tok.len > 0 && strspn(tok.data, "0123456789") == tok.len &&
               !(tok.len > 1 && tok.data[0] == '0');
      cur = ok ? json_at(cur, strtoul(tok.data, NULL, 10)) : NULL;
    } else {
      cur = NULL;
    }
    json_buf_free(&tok);
    ptr += n;
  }
  return cur;
}

/* ----- writer ------------------------------------------------------------------------ */

static void write_string(json_buf *out, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  json_buf_add(out, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': json_buf_add(out, "\\\"", 2); break;
      case '\\': json_buf_add(out, "\\\\", 2); break;
      case '\b': json_buf_add(out, "\\b", 2); break;
      case '\f': json_buf_add(out, "\\f", 2); break;
      case '\n': json_buf_add(out, "\\n", 2); break;
      case '\r': json_buf_add(out, "\\r", 2); break;
      case '\t': json_buf_add(out, "\\t", 2); break;
      default:
        if (c < 0x20) {
          char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
          json_buf_add(out, u, 6);
        } else {
          json_buf_add(out, (const char *)s + i, 1);
        }
    }
  }
  json_buf_add(out, "\"", 1);
}

static void newline(json_buf *out, int indent, int level) {
  if (indent < 0) return;
  json_buf_add(out, "\n", 1);
  for (int i = 0; i < indent * level; i++) json_buf_add(out, " ", 1);
}

static void write_value(json_buf *out, const json *v, int indent, int level) {
  switch (v->type) {
    case JSON_NULL: json_buf_adds(out, "null"); break;
    case JSON_BOOL: json_buf_adds(out, v->boolean ? "true" : "false"); break;
    case JSON_NUMBER: json_buf_add(out, v->text, v->len); break;
    case JSON_STRING: write_string(out, v->text, v->len); break;
    case JSON_ARRAY:
    case JSON_OBJECT: {
      int obj = v->type == JSON_OBJECT;
      json_buf_add(out, obj ? "{" : "[", 1);
      for (const json *e = v->child; e; e = e->next) {
        newline(out, indent, level + 1);
        if (obj) {
          write_string(out, e->key, e->key_len);
          json_buf_adds(out, indent < 0 ? ":" : ": ");
        }
        write_value(out, e, indent, level + 1);
        if (e->next) json_buf_add(out, ",", 1);
      }
      if (v->child) newline(out, indent, level);
      json_buf_add(out, obj ? "}" : "]", 1);
      break;
    }
  }
}

void json_write(json_buf *out, const json *v) {
  json_buf_add(out, "", 0);
  write_value(out, v, -1, 0);
}

void json_write_pretty(json_buf *out, const json *v, int indent) {
  json_buf_add(out, "", 0);
  write_value(out, v, indent < 0 ? 0 : indent, 0);
}

const char *json_type_name(json_type t) {
  switch (t) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "boolean";
    case JSON_NUMBER: return "number";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
  }
  return "?";
}
