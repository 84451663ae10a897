/* One engine, many C threads at once: the engine handle is thread-safe.
 * Usage: test_threads [REQUESTS_PER_THREAD] (default 100; fewer under valgrind). */
#include "check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 16
#define PER_THREAD_DEFAULT 100

static scim_engine *engine;
static char path[256];
static char auth[256];
static int per_thread = PER_THREAD_DEFAULT;

static void *worker(void *arg) {
  long t = (long)arg;
  long ok = 0;
  for (int i = 0; i < per_thread; i++) {
    char body[128];
    snprintf(body, sizeof body, "{\"userName\":\"t%ld-u%d\"}", t, i);
    scim_header headers[1] = {{STR("Authorization"), STR(auth)}};
    scim_request req = {STR("POST"), STR(path), {NULL, 0}, headers, 1,
                        (const uint8_t *)body, strlen(body)};
    scim_response *resp = NULL;
    scim_response_view view;
    if (scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_OK && view.status == 201)
      ok++;
    scim_response_free(resp);
    /* Reads interleave with the writes. */
    scim_request get = {STR("GET"), STR(path), STR("count=1"), headers, 1, NULL, 0};
    resp = NULL;
    if (scim_request_handle(engine, &get, &resp, &view) == SCIM_RESULT_OK && view.status == 200)
      ok++;
    scim_response_free(resp);
  }
  return (void *)ok;
}

int main(int argc, char **argv) {
  char *dir = NULL, *token = NULL, *id = NULL, *secret = NULL;
  if (argc > 1) per_thread = atoi(argv[1]);
  if (per_thread <= 0) per_thread = PER_THREAD_DEFAULT;
  if (scim_engine_open(NULL, NULL, &engine) != SCIM_RESULT_OK ||
      scim_directory_create(engine,
                            "{\"name\":\"Threads\",\"domain\":\"example.com\",\"idp\":\"entra\","
                            "\"services\":[\"access\"],\"mapping_profile\":\"rfc\"}",
                            &dir) != SCIM_RESULT_OK ||
      (id = json_string(dir, "id")) == NULL ||
      scim_token_issue(engine, id, 0, &token) != SCIM_RESULT_OK ||
      (secret = json_string(token, "secret")) == NULL) {
    fprintf(stderr, "setup failed: %s\n", scim_last_error());
    return 1;
  }
  snprintf(path, sizeof path, "/scim/v2/%s/Users", id);
  snprintf(auth, sizeof auth, "Bearer %s", secret);
  free(id);
  free(secret);

  pthread_t threads[THREADS];
  for (long t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, worker, (void *)t);
  long ok = 0;
  for (int t = 0; t < THREADS; t++) {
    void *r;
    pthread_join(threads[t], &r);
    ok += (long)r;
  }
  int passed = ok == THREADS * per_thread * 2;
  /* Every write is there exactly once. */
  scim_header headers[1] = {{STR("Authorization"), STR(auth)}};
  scim_request req = {STR("GET"), STR(path), STR("count=0"), headers, 1, NULL, 0};
  scim_response *resp = NULL;
  scim_response_view view;
  char expect[64];
  snprintf(expect, sizeof expect, "\"totalResults\":%d", THREADS * per_thread);
  int total_ok = scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_OK &&
                 memmem(view.body, view.body_len, expect, strlen(expect)) != NULL;
  scim_response_free(resp);
  scim_string_free(dir);
  scim_string_free(token);
  scim_engine_free(engine);
  printf("%d passed, %d failed\n", passed + total_ok, !passed + !total_ok);
  return passed && total_ok ? 0 : 1;
}
