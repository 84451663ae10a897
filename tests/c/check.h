/* What the C tests of the ABI share: CHECK, which counts passes and failures and names
   the library's last error; STR, a C string as the length-delimited string the ABI
   takes; json_string, the string value of a key in a flat JSON object. */
#ifndef LIBSCIM_TEST_CHECK_H
#define LIBSCIM_TEST_CHECK_H

#include "scim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unused by tests that judge their outcome another way (test_threads). */
__attribute__((unused)) static int passed = 0, failed = 0;

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (cond) {                                                                      \
      passed++;                                                                      \
    } else {                                                                         \
      failed++;                                                                      \
      fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__,        \
              __LINE__, #cond, scim_last_error());                                   \
    }                                                                                \
  } while (0)

#define STR(s) ((scim_str){(s), strlen(s)})

/* The string value of "key" in a flat JSON object (enough for ids and secrets), or NULL;
   free it. */
static inline char *json_string(const char *json, const char *key) {
  char pattern[128];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  const char *start = strstr(json, pattern);
  if (!start) return NULL;
  start += strlen(pattern);
  const char *end = strchr(start, '"');
  if (!end) return NULL;
  return strndup(start, (size_t)(end - start));
}

#endif
