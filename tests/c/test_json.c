/* The test-only JSON parser (json.c): a parser bug must not make the vectors pass. */
#include "json.h"

#include <stdio.h>
#include <string.h>

static int passed = 0, failed = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (cond) {                                                              \
      passed++;                                                              \
    } else {                                                                 \
      failed++;                                                              \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                        \
  } while (0)

static json *parse(const char *s) { return json_parse(s, strlen(s), NULL, 0); }

/* Parses, and writes back compactly as `expect`. */
static int roundtrip(const char *text, const char *expect) {
  json *v = parse(text);
  if (!v) return 0;
  json_buf b = {0};
  json_write(&b, v);
  int ok = strcmp(b.data, expect) == 0;
  if (!ok) fprintf(stderr, "roundtrip %s: got %s, want %s\n", text, b.data, expect);
  json_buf_free(&b);
  json_free(v);
  return ok;
}

static int rejects(const char *text) {
  json *v = parse(text);
  json_free(v);
  return v == NULL;
}

int main(void) {
  /* Scalars and structure, key order kept. */
  CHECK(roundtrip(" { \"b\" : 1 , \"a\" : [ true , false , null ] } ", "{\"b\":1,\"a\":[true,false,null]}"));
  CHECK(roundtrip("[]", "[]"));
  CHECK(roundtrip("{}", "{}"));
  CHECK(roundtrip("\"\"", "\"\""));
  CHECK(roundtrip("-0.5e+10", "-0.5e+10")); /* numbers keep their text */
  CHECK(roundtrip("[0,1.25,-3,1E2]", "[0,1.25,-3,1E2]"));

  json *v = parse("[1, 1.0, 2.5e1, -0]");
  CHECK(v && v->count == 4 && json_at(v, 0)->number == 1.0 && json_at(v, 1)->number == 1.0 &&
        json_at(v, 2)->number == 25.0 && json_at(v, 3)->number == 0.0);
  CHECK(v && json_at(v, 4) == NULL);
  json_free(v);

  /* Escapes, including surrogate pairs, to UTF-8; written back as serde_json does. */
  v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\\u0000z\"");
  CHECK(v && v->type == JSON_STRING);
  CHECK(v && v->len == 23 &&
        memcmp(v->text, "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0z", 23) == 0);
  json_free(v);
  CHECK(roundtrip("\"\\u0001\\u001f\\/\xc3\xa9\"", "\"\\u0001\\u001f/\xc3\xa9\""));
  CHECK(roundtrip("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""));

  /* Malformed input is refused. */
  const char *bad[] = {"", " ", "[", "]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]",
                       "[1 2]", "{a:1}", "'a'", "01", "1.", ".5", "-", "1e", "+1", "tru",
                       "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"",
                       "\"\\ude00\"", "\"\\ud83d\\u0041\"", "\"a\nb\"", "\"\xff\"",
                       "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "1 2",
                       "{\"a\":1}x", "nan", "[1,2"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int ok = rejects(bad[i]);
    if (!ok) fprintf(stderr, "accepted malformed %s\n", bad[i]);
    CHECK(ok);
  }
  char err[128];
  CHECK(json_parse("[1,", 3, err, sizeof err) == NULL && strstr(err, "byte 3") != NULL);
  /* Deep nesting is refused, not a crash. */
  char deep[2001];
  memset(deep, '[', 2000);
  deep[2000] = '\0';
  CHECK(rejects(deep));
  /* Embedded NUL in the input is not the end of the text. */
  CHECK(json_parse("1\0", 2, NULL, 0) == NULL);

  /* Lookup and JSON pointers (RFC 6901 examples). */
  v = parse("{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"c%d\":2,\"m~n\":8,\"k\":{\"x\":[{\"y\":3}]},"
            "\"d\":1,\"d\":2}");
  CHECK(v != NULL);
  CHECK(json_pointer(v, "") == v);
  CHECK(json_pointer(v, "/foo") && json_pointer(v, "/foo")->count == 2);
  CHECK(json_pointer(v, "/foo/0") && strcmp(json_pointer(v, "/foo/0")->text, "bar") == 0);
  CHECK(json_pointer(v, "/foo/2") == NULL);
  CHECK(json_pointer(v, "/foo/01") == NULL);
  CHECK(json_pointer(v, "/foo/-") == NULL);
  CHECK(json_pointer(v, "/") && json_pointer(v, "/")->number == 0);
  CHECK(json_pointer(v, "/a~1b") && json_pointer(v, "/a~1b")->number == 1);
  CHECK(json_pointer(v, "/c%d") && json_pointer(v, "/c%d")->number == 2);
  CHECK(json_pointer(v, "/m~0n") && json_pointer(v, "/m~0n")->number == 8);
  CHECK(json_pointer(v, "/k/x/0/y") && json_pointer(v, "/k/x/0/y")->number == 3);
  CHECK(json_pointer(v, "/k/x/0/y/z") == NULL);
  CHECK(json_pointer(v, "foo") == NULL);
  CHECK(json_get(v, "d") && json_get(v, "d")->number == 2); /* the last one wins */
  CHECK(json_get(v, "nope") == NULL);

  /* Clones are deep and equal in text; pretty output parses back. */
  json *c = json_clone(v);
  json_buf a = {0}, b = {0}, p = {0};
  json_write(&a, v);
  json_write(&b, c);
  CHECK(strcmp(a.data, b.data) == 0);
  json_write_pretty(&p, c, 2);
  json *back = json_parse(p.data, p.len, NULL, 0);
  json_buf r = {0};
  if (back) json_write(&r, back);
  CHECK(back && strcmp(r.data, a.data) == 0);
  json_free(back);
  json_buf_free(&a);
  json_buf_free(&b);
  json_buf_free(&p);
  json_buf_free(&r);
  json_free(c);
  json_free(v);

  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
