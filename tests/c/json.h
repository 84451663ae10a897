/* A small JSON parser and writer for the C tests (test-only code, RFC 8259).
 *
 * Parses into a tree; strings are UTF-8 (escapes decoded, \uXXXX surrogate pairs
 * joined; lone surrogates and invalid UTF-8 are errors); numbers keep both their value
 * as a double and their original text; objects keep their members in document order. */
#ifndef SCIM_TEST_JSON_H
#define SCIM_TEST_JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json json;
struct json {
  json_type type;
  int boolean;     /* JSON_BOOL */
  double number;   /* JSON_NUMBER */
  char *text;      /* JSON_STRING: the value; JSON_NUMBER: the original text (NUL-ended) */
  size_t len;      /* length of `text` in bytes (a string may hold \u0000) */
  char *key;       /* the member name when this value is in an object, else NULL */
  size_t key_len;
  json *child;     /* first element or member */
  json *next;      /* next sibling */
  size_t count;    /* number of elements or members */
};

/* A growable byte buffer, always NUL-terminated. */
typedef struct {
  char *data;
  size_t len, cap;
} json_buf;

void json_buf_add(json_buf *b, const char *s, size_t n);
void json_buf_adds(json_buf *b, const char *s);
void json_buf_free(json_buf *b);

/* Parse `len` bytes. On failure returns NULL and writes a message (with the byte
 * offset) into `err` when it is not NULL. Free the result with json_free. */
json *json_parse(const char *text, size_t len, char *err, size_t err_len);
void json_free(json *v);

/* A deep copy (free it with json_free). */
json *json_clone(const json *v);

/* Replace the text of a JSON_STRING (takes ownership of `s`, which holds `len` bytes). */
void json_set_string(json *v, char *s, size_t len);

/* Member `key` of an object (the last one when a key repeats), or NULL. */
const json *json_get(const json *obj, const char *key);
/* Element `i` of an array, or NULL. */
const json *json_at(const json *arr, size_t i);
/* RFC 6901 pointer ("" is the whole document), or NULL when it leads nowhere. */
const json *json_pointer(const json *root, const char *pointer);

/* Append the compact JSON text of `v` (serde_json's spelling: only `"`, `\` and
 * control characters are escaped; numbers as written). */
void json_write(json_buf *out, const json *v);
/* Same, indented by two spaces per level. */
void json_write_pretty(json_buf *out, const json *v, int indent);
const char *json_type_name(json_type t);

#endif
