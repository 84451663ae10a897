/* The log callback and its userdata finalizer, as a C host uses them: records arrive
   with the host's userdata; the finalizer runs exactly once, when the callback is
   replaced or cleared, never for a failed call or a NULL callback. Under valgrind a
   heap userdata whose finalizer were never called shows as a definite leak. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one installed callback saw. */
struct sink {
  int records;     /* records from scim::provider about the unknown member */
  int freed;       /* finalizer calls */
  int reenter;     /* call scim_log_set_callback from inside the callback */
  scim_result reentered; /* what that call answered */
  scim_engine *nest;     /* answer a request from inside the callback, once */
  const char *nest_path; /* its path (no token: 401) */
  int nested_status;     /* what it answered */
};

static void on_log(void *userdata, uint32_t level, const char *target, const char *message) {
  struct sink *s = userdata;
  if (strcmp(target, "scim::provider") == 0 && strstr(message, "ignoring unknown member") &&
      level == 2) {
    s->records++;
  }
  if (s->reenter) {
    s->reentered = scim_log_set_callback(NULL, NULL, NULL, 0);
  }  if (s->nest) {
    scim_engine *engine = s->nest;
    s->nest = NULL;
    scim_request req = {STR("GET"), STR(s->nest_path), {NULL, 0}, NULL, 0, NULL, 0};
    scim_response *resp = NULL;
    scim_response_view view;
    if (scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_OK) {
      s->nested_status = view.status;
      scim_response_free(resp);
    }
  }
}

static void on_free(void *userdata) { ((struct sink *)userdata)->freed++; }

/* A heap userdata: freed by its finalizer, or valgrind reports it lost. */
static int heap_records = 0;
static void on_log_heap(void *userdata, uint32_t level, const char *target,
                        const char *message) {
  (void)level;
  (void)target;
  (void)message;
  ++*(int *)userdata;
  heap_records++;
}
static void free_heap(void *userdata) { free(userdata); }

/* One POST /Groups naming a member that does not exist: the provider logs a warning
   (target scim::provider) on this thread, before scim_request_handle returns. */
static void provoke(scim_engine *engine, const char *id, const char *token) {
  static int n = 0;
  char path[256], auth[256], body[512];
  snprintf(path, sizeof path, "/scim/v2/%s/Groups", id);
  snprintf(auth, sizeof auth, "Bearer %s", token);
  snprintf(body, sizeof body,
           "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],"
           "\"displayName\":\"log group %d\",\"members\":[{\"value\":\"0000-nobody\"}]}",
           ++n);
  scim_header headers[2] = {{STR("Authorization"), STR(auth)},
                            {STR("Content-Type"), STR("application/scim+json")}};
  scim_request req = {STR("POST"), STR(path), {NULL, 0}, headers, 2, (const uint8_t *)body,
                      strlen(body)};
  scim_response *resp = NULL;
  scim_response_view view;
  CHECK(scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_OK);
  CHECK(view.status == 201);
  scim_response_free(resp);
}

int main(void) {
  scim_engine *engine = NULL;
  char *dir_json = NULL, *token_json = NULL;
  CHECK(scim_engine_open(NULL, NULL, &engine) == SCIM_RESULT_OK);
  CHECK(scim_directory_create(engine,
                              "{\"name\":\"Log Directory\",\"domain\":\"example.com\","
                              "\"idp\":\"okta\",\"services\":[\"uem\"]}",
                              &dir_json) == SCIM_RESULT_OK);
  char *id = json_string(dir_json, "id");
  CHECK(scim_token_issue(engine, id, 6, &token_json) == SCIM_RESULT_OK);
  char *token = json_string(token_json, "secret");

  struct sink a = {0}, b = {0}, c = {0};

  /* Installed: records arrive with the userdata; nothing finalized yet. */
  CHECK(scim_log_set_callback(on_log, &a, on_free, 2) == SCIM_RESULT_OK);
  provoke(engine, id, token);
  CHECK(a.records == 1);
  CHECK(a.freed == 0);

  /* Replaced (same function, other userdata): the old userdata finalized once, before
     the call returned; records go to the new one only. */
  CHECK(scim_log_set_callback(on_log, &b, on_free, 2) == SCIM_RESULT_OK);
  CHECK(a.freed == 1);
  CHECK(b.freed == 0);
  provoke(engine, id, token);
  CHECK(a.records == 1);
  CHECK(b.records == 1);

  /* Below the level: the callback stays (and its userdata), the record is not sent. */
  CHECK(scim_log_set_callback(on_log, &c, on_free, 1) == SCIM_RESULT_OK);
  CHECK(b.freed == 1);
  provoke(engine, id, token);
  CHECK(c.records == 0);
  CHECK(c.freed == 0);

  /* Cleared: finalized once; no more records; clearing again finalizes nothing. */
  CHECK(scim_log_set_callback(NULL, NULL, NULL, 0) == SCIM_RESULT_OK);
  CHECK(c.freed == 1);
  provoke(engine, id, token);
  CHECK(scim_log_set_callback(NULL, NULL, NULL, 0) == SCIM_RESULT_OK);
  CHECK(a.freed == 1 && b.freed == 1 && c.freed == 1);
  CHECK(a.records == 1 && b.records == 1 && c.records == 0);

  /* A NULL callback keeps nothing: its userdata_free is not called. */
  struct sink unused = {0};
  CHECK(scim_log_set_callback(NULL, &unused, on_free, 5) == SCIM_RESULT_OK);
  CHECK(scim_log_set_callback(NULL, NULL, NULL, 0) == SCIM_RESULT_OK);
  CHECK(unused.freed == 0);

  /* From inside the callback: WRONG_STATE, and the callback stays installed. */
  struct sink inner = {0};
  inner.reenter = 1;
  inner.reentered = SCIM_RESULT_OK;
  CHECK(scim_log_set_callback(on_log, &inner, on_free, 2) == SCIM_RESULT_OK);
  provoke(engine, id, token);
  CHECK(inner.reentered == SCIM_RESULT_WRONG_STATE);
  CHECK(inner.records == 1);
  CHECK(inner.freed == 0);
  inner.reenter = 0;
  provoke(engine, id, token);
  CHECK(inner.records == 2);

  /* A request answered from inside the callback, while the library answers another on
     the same thread: both are answered, each its own (the outer one's 201 is checked
     in provoke). */
  char groups[256];
  snprintf(groups, sizeof groups, "/scim/v2/%s/Groups", id);
  inner.nest = engine;
  inner.nest_path = groups;
  provoke(engine, id, token);
  CHECK(inner.nest == NULL);
  CHECK(inner.nested_status == 401);
  CHECK(inner.records == 3);

  /* A NULL finalizer: the library keeps the userdata without giving it back. */
  CHECK(scim_log_set_callback(on_log, &inner, NULL, 2) == SCIM_RESULT_OK);
  CHECK(inner.freed == 1);
  CHECK(scim_log_set_callback(NULL, NULL, NULL, 0) == SCIM_RESULT_OK);
  CHECK(inner.freed == 1);

  /* Heap userdata freed by its finalizer (valgrind: no leak). */
  int *count = calloc(1, sizeof *count);
  CHECK(count != NULL);
  CHECK(scim_log_set_callback(on_log_heap, count, free_heap, 5) == SCIM_RESULT_OK);
  provoke(engine, id, token);
  CHECK(heap_records >= 1);
  CHECK(scim_log_set_callback(NULL, NULL, NULL, 0) == SCIM_RESULT_OK);

  free(token);
  free(id);
  scim_string_free(token_json);
  scim_string_free(dir_json);
  scim_engine_free(engine);
  printf("test_log: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
