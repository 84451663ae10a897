/* The C ABI as a C host uses it: the whole flow, and every misuse returning its code. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* GET `path` from the server on 127.0.0.1:`port` with a bearer token; the whole reply
   (head and body) in `reply`. */
static void http_get(int port, const char *path, const char *bearer, char *reply,
                     size_t size) {
  memset(reply, 0, size);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  char http[512];
  int n = snprintf(http, sizeof http,
                   "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Connection: close\r\n\r\n",
                   path, bearer);
  CHECK(write(fd, http, (size_t)n) == n);
  size_t got = 0;
  ssize_t r;
  while (got < size - 1 && (r = read(fd, reply + got, size - 1 - got)) > 0) got += (size_t)r;
  close(fd);
}

/* Whether a string the library returned is `want`, and NUL-terminated after its length. */
static int str_is(scim_str s, const char *want) {
  return s.len == strlen(want) && memcmp(s.data, want, s.len) == 0 && s.data[s.len] == '\0';
}

static scim_response *request(scim_engine *engine, const char *method, const char *path,
                              const char *token, const char *body, scim_response_view *view) {
  char auth[256];
  snprintf(auth, sizeof auth, "Bearer %s", token);
  scim_header headers[2] = {{STR("Authorization"), STR(auth)},
                            {STR("Content-Type"), STR("application/scim+json")}};
  scim_request req = {STR(method), STR(path), {NULL, 0}, headers, 2, (const uint8_t *)body,
                      body ? strlen(body) : 0};
  scim_response *resp = NULL;
  memset(view, 0, sizeof *view);
  CHECK(scim_request_handle(engine, &req, &resp, view) == SCIM_RESULT_OK);
  return resp;
}

/* What the subscription's callback received (the first batch) and its finalizer. */
static char *received;
static int finalized;
static void *finalized_with;

static void on_events(void *userdata, const char *events_json) {
  (void)userdata;
  if (!__atomic_load_n(&received, __ATOMIC_ACQUIRE))
    __atomic_store_n(&received, strdup(events_json), __ATOMIC_RELEASE);
}

static void on_finalize(void *userdata) {
  finalized_with = userdata;
  __atomic_add_fetch(&finalized, 1, __ATOMIC_ACQ_REL);
}

/* Which refusal: each failure's code is the kind the library set, not a guess. */
static void kinds(void) {
  scim_engine *engine = NULL;
  char *out = NULL;
  /* A malformed secrets_key, and a store that cannot be opened. */
  CHECK(scim_engine_open(NULL, "{\"secrets_key\": \"not hex\"}", &engine) ==
        SCIM_RESULT_SECRETS_KEY);
  CHECK(strstr(scim_last_error(), "secrets_key") != NULL);
  CHECK(scim_engine_open("/nonexistent-libscim-dir/sub/scim.db", NULL, &engine) ==
        SCIM_RESULT_IO);
  CHECK(engine == NULL);
  CHECK(strcmp(scim_result_name(SCIM_RESULT_SECRETS_KEY), "SCIM_RESULT_SECRETS_KEY") == 0);
  CHECK(strcmp(scim_result_name(SCIM_RESULT_UNAUTHENTICATED), "SCIM_RESULT_UNAUTHENTICATED") ==
        0);

  /* Refusals of a directory's operations. (A client secret sealed with another key,
     SECRETS_KEY at login, is checked by the Rust, Python and Go tests, not here: on a
     file store with a secrets_key, valgrind reports uninitialised values inside ring's
     sealing and rusqlite's parameter binding, which this test must not hide.) */
  CHECK(scim_engine_open(NULL, NULL, &engine) == SCIM_RESULT_OK);
  CHECK(scim_directory_create(engine,
                              "{\"name\":\"Kinds\",\"domain\":\"example.com\","
                              "\"idp\":\"okta\",\"services\":[\"uem\"]}",
                              &out) == SCIM_RESULT_OK);
  char *id = json_string(out, "id");
  scim_string_free(out);
  out = NULL;
  CHECK(scim_directory_create(engine,
                              "{\"name\":\"Kinds\",\"domain\":\"example.com\","
                              "\"idp\":\"okta\",\"services\":[\"uem\"]}",
                              &out) == SCIM_RESULT_CONFLICT);
  CHECK(scim_token_issue(engine, id, 25, &out) == SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(scim_event_ack(engine, id, 99) == SCIM_RESULT_CONFLICT);
  CHECK(scim_login_begin(engine, id, &out) == SCIM_RESULT_WRONG_STATE);
  CHECK(out == NULL);
  scim_engine_free(engine);

  /* Server options: JSON that does not parse, and a broken rule. */
  CHECK(scim_engine_open(NULL, NULL, &engine) == SCIM_RESULT_OK);
  scim_server *server = NULL;
  CHECK(scim_server_start(engine, "{\"listen\": 5}", &server) == SCIM_RESULT_INVALID_JSON);
  CHECK(scim_server_start(engine, "{\"tls_cert\": \"c.pem\"}", &server) ==
        SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(scim_server_start(engine, "{\"max_in_flight\": 0}", &server) ==
        SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(strcmp(scim_last_error(), "max_in_flight must be at least 1") == 0);
  CHECK(server == NULL);
  scim_engine_free(engine);
  free(id);
}

static void misuse(void) {
  scim_engine *engine = NULL;
  char *out = NULL;
  CHECK(scim_engine_open(NULL, NULL, NULL) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(strstr(scim_last_error(), "engine_out") != NULL);
  CHECK(scim_engine_open(NULL, "{not json", &engine) == SCIM_RESULT_INVALID_JSON);
  CHECK(engine == NULL); /* outputs are written only on success */
  CHECK(scim_engine_open(NULL, "{\"unknown_field\": 1}", &engine) == SCIM_RESULT_INVALID_JSON);
  CHECK(scim_engine_open("\xff\xfe", NULL, &engine) == SCIM_RESULT_INVALID_UTF8);
  CHECK(scim_engine_open(NULL, NULL, &engine) == SCIM_RESULT_OK);
  CHECK(strcmp(scim_last_error(), "") == 0);

  CHECK(scim_directory_create(NULL, "{}", &out) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(scim_directory_create(engine, NULL, &out) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(scim_directory_create(engine, "[]", &out) == SCIM_RESULT_INVALID_JSON);
  CHECK(scim_directory_create(engine,
                              "{\"name\":\"bad/name\",\"domain\":\"example.com\","
                              "\"idp\":\"okta\",\"services\":[\"uem\"]}",
                              &out) == SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(strncmp(scim_last_error(), "name: ", 6) == 0);
  CHECK(out == NULL);
  CHECK(scim_directory_get(engine, "nope", &out) == SCIM_RESULT_NOT_FOUND);
  CHECK(scim_token_issue(engine, "nope", 0, &out) == SCIM_RESULT_NOT_FOUND);
  CHECK(scim_event_ack(engine, "nope", 1) == SCIM_RESULT_NOT_FOUND);

  /* Every NULL names its argument, or the request field. */
  scim_request req = {STR("GET"), {NULL, 0}, {NULL, 0}, NULL, 0, NULL, 0};
  scim_response *resp = NULL;
  scim_response_view view;
  CHECK(scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(strcmp(scim_last_error(), "request.path is NULL") == 0);
  CHECK(scim_request_handle(engine, NULL, &resp, &view) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(strcmp(scim_last_error(), "request is NULL") == 0);
  CHECK(scim_request_handle(NULL, &req, &resp, &view) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(strcmp(scim_last_error(), "engine is NULL") == 0);
  req.path = STR("/scim/v2/x/Users");
  CHECK(scim_request_handle(engine, &req, NULL, &view) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(strcmp(scim_last_error(), "response_out is NULL") == 0);
  CHECK(scim_request_handle(engine, &req, &resp, NULL) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(strcmp(scim_last_error(), "view_out is NULL") == 0);
  req.method = (scim_str){NULL, 0};
  CHECK(scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(strcmp(scim_last_error(), "request.method is NULL") == 0);
  req.method = STR("GET");
  req.body_len = 3; /* a length without a body */
  CHECK(scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(strcmp(scim_last_error(), "request.body is NULL") == 0);
  req.body_len = 0;
  req.headers_len = 1; /* headers claimed, none given */
  CHECK(scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(strcmp(scim_last_error(), "request.headers is NULL") == 0);
  scim_header bad[2] = {{STR("Accept"), STR("*/*")}, {STR("X-Bad"), {NULL, 2}}};
  req.headers = bad;
  req.headers_len = 2; /* a length without its string */
  CHECK(scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(strcmp(scim_last_error(), "request.headers[1].value is NULL") == 0);
  bad[1].value = (scim_str){"\xff\xfe", 2};
  CHECK(scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_INVALID_UTF8);
  CHECK(strcmp(scim_last_error(), "request.headers[1].value is not valid UTF-8") == 0);
  req.query = (scim_str){"\xc3", 1}; /* checked before the headers */
  CHECK(scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_INVALID_UTF8);
  CHECK(strcmp(scim_last_error(), "request.query is not valid UTF-8") == 0);
  CHECK(resp == NULL); /* outputs are written only on success */
  /* Empty strings may come as NULL with length 0; a request without a token is a
   * response (401), not a failure of the call. */
  bad[1].value = (scim_str){NULL, 0};
  req.query = (scim_str){NULL, 0};
  CHECK(scim_request_handle(engine, &req, &resp, &view) == SCIM_RESULT_OK);
  CHECK(view.status == 401 && view.body_len > 0);
  scim_response_free(resp);

  CHECK(strcmp(scim_result_name(SCIM_RESULT_PANIC), "SCIM_RESULT_PANIC") == 0);
  CHECK(strcmp(scim_result_name(SCIM_RESULT_OK), "SCIM_RESULT_OK") == 0);
  CHECK(strcmp(scim_version(), SCIM_VERSION_STRING) == 0);

  /* Every free accepts NULL. */
  scim_response_free(NULL);
  scim_engine_free(NULL);
  scim_string_free(NULL);
  scim_server_free(NULL);
  scim_subscription_free(NULL);
  scim_engine_free(engine);
}

static void flow(void) {
  scim_engine *engine = NULL;
  char *dir_json = NULL, *token_json = NULL, *events = NULL;
  CHECK(scim_engine_open(NULL, "{\"public_url\": \"https://host.example.com\"}", &engine) ==
        SCIM_RESULT_OK);
  CHECK(scim_directory_create(engine,
                              "{\"name\":\"C Directory\",\"domain\":\"example.com\","
                              "\"idp\":\"okta\",\"services\":[\"uem\",\"access\"]}",
                              &dir_json) == SCIM_RESULT_OK);
  char *id = json_string(dir_json, "id");
  char *tenant = json_string(dir_json, "tenant_url");
  CHECK(id && tenant && strstr(tenant, "https://host.example.com/scim/v2/") == tenant);
  scim_string_free(dir_json);
  dir_json = NULL;
  char *all = NULL;
  CHECK(scim_directory_list(engine, &all) == SCIM_RESULT_OK);
  CHECK(all[0] == '[' && strstr(all, id) != NULL && strstr(all, "\"C Directory\"") != NULL);
  scim_string_free(all);
  CHECK(scim_directory_list(engine, NULL) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(scim_token_issue(engine, id, 13, &token_json) == SCIM_RESULT_OK);
  char *secret = json_string(token_json, "secret");
  CHECK(secret && strncmp(secret, "scim_", 5) == 0);

  char path[256];
  snprintf(path, sizeof path, "/scim/v2/%s/Users", id);
  /* The Workspace ONE profile (the Okta default) requires the six mapped attributes. */
  /* One call: the response with a view of its status, body and headers. */
  scim_response_view view;
  scim_response *resp = request(engine, "POST", path, secret,
                                "{\"userName\":\"ada@example.com\",\"externalId\":\"00u1\","
                                "\"name\":{\"givenName\":\"Ada\",\"familyName\":\"Lovelace\"},"
                                "\"emails\":[{\"value\":\"ada@example.com\",\"type\":\"work\"}],"
                                "\"active\":true}",
                                &view);
  CHECK(view.status == 201);
  CHECK(view.body_len > 0 && memmem(view.body, view.body_len, "ada@example.com", 15) != NULL);
  CHECK(view.headers != NULL && view.headers_len >= 3);
  int saw_location = 0, saw_type = 0, saw_etag = 0;
  for (size_t i = 0; i < view.headers_len; i++) {
    scim_header h = view.headers[i];
    if (str_is(h.name, "Location"))
      saw_location = h.value.len > strlen(tenant) && strncmp(h.value.data, tenant, strlen(tenant)) == 0;
    saw_type |= str_is(h.name, "Content-Type") && str_is(h.value, "application/scim+json");
    saw_etag |= str_is(h.name, "ETag") && h.value.len > 4 && strncmp(h.value.data, "W/\"", 3) == 0;
    /* The strings lie back to back, each NUL-terminated, in order: one block. */
    CHECK(h.value.data == h.name.data + h.name.len + 1);
    if (i > 0) CHECK(h.name.data == view.headers[i - 1].value.data + view.headers[i - 1].value.len + 1);
  }
  CHECK(saw_location && saw_type && saw_etag);
  scim_response_free(resp);

  resp = request(engine, "GET", path, "scim_wrong", NULL, &view);
  CHECK(view.status == 401);
  scim_response_free(resp);

  /* The library refills a thread's request buffers call after call: nothing of one
     request carries into the next. Without headers after a call with a token: 401; a
     POST without a body after one with a body (a taken userName, 409): 400. */
  resp = request(engine, "GET", path, secret, NULL, &view);
  CHECK(view.status == 200);
  scim_response_free(resp);
  scim_request bare = {STR("GET"), STR(path), {NULL, 0}, NULL, 0, NULL, 0};
  CHECK(scim_request_handle(engine, &bare, &resp, &view) == SCIM_RESULT_OK);
  CHECK(view.status == 401);
  scim_response_free(resp);
  resp = request(engine, "POST", path, secret,
                 "{\"userName\":\"ada@example.com\",\"externalId\":\"00u2\","
                 "\"name\":{\"givenName\":\"Ada\",\"familyName\":\"Lovelace\"},"
                 "\"emails\":[{\"value\":\"ada@example.com\",\"type\":\"work\"}],"
                 "\"active\":true}",
                 &view);
  CHECK(view.status == 409);
  scim_response_free(resp);
  resp = request(engine, "POST", path, secret, NULL, &view);
  CHECK(view.status == 400);
  scim_response_free(resp);

  CHECK(scim_event_next(engine, id, 10, 1000, &events) == SCIM_RESULT_OK);
  CHECK(strstr(events, "\"kind\":\"user.created\"") != NULL);
  CHECK(strstr(events, "\"seq\":1") != NULL);
  CHECK(scim_event_ack(engine, id, 1) == SCIM_RESULT_OK);
  CHECK(scim_event_ack(engine, id, 99) == SCIM_RESULT_CONFLICT);
  /* Rewind delivers the unacknowledged rest again. Retention deletes acknowledged events
   * as the cursor advances, so prune finds none left. */
  CHECK(scim_event_rewind(engine, id) == SCIM_RESULT_OK);
  char *stats = NULL;
  CHECK(scim_event_stats_get(engine, id, &stats) == SCIM_RESULT_OK);
  CHECK(strstr(stats, "\"acked\":1") != NULL);
  scim_string_free(stats);
  uint64_t pruned = 99;
  CHECK(scim_event_prune(engine, id, &pruned) == SCIM_RESULT_OK && pruned == 0);
  CHECK(scim_event_prune(engine, id, NULL) == SCIM_RESULT_NULL_PARAMETER);
  /* A consumer group of its own starts at the oldest event kept: none (the only group,
   * "default", acknowledged event 1, so retention deleted it). */
  char *group_events = NULL;
  CHECK(scim_event_group_next(engine, id, "audit", 10, 0, &group_events) == SCIM_RESULT_OK);
  CHECK(strcmp(group_events, "[]") == 0);
  scim_string_free(group_events);
  CHECK(scim_event_group_ack(engine, id, "audit", 99) == SCIM_RESULT_CONFLICT);
  CHECK(scim_event_group_ack(engine, id, "audit", 1) == SCIM_RESULT_OK);
  CHECK(scim_event_group_rewind(engine, id, "audit") == SCIM_RESULT_OK);
  group_events = NULL;
  CHECK(scim_event_group_next(engine, id, "", 10, 0, &group_events) ==
        SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(group_events == NULL);
  CHECK(scim_event_group_next(engine, id, NULL, 10, 0, &group_events) ==
        SCIM_RESULT_NULL_PARAMETER);
  char *groups = NULL;
  CHECK(scim_event_group_list(engine, id, &groups) == SCIM_RESULT_OK);
  CHECK(strstr(groups, "\"group\":\"audit\",\"acked\":1") != NULL);
  CHECK(strstr(groups, "\"group\":\"default\",\"acked\":1") != NULL);
  scim_string_free(groups);
  char *expiring = NULL;
  CHECK(scim_token_list_expiring(engine, 3600, &expiring) == SCIM_RESULT_OK);
  CHECK(strcmp(expiring, "[]") == 0);
  scim_string_free(expiring);
  CHECK(scim_token_list_expiring(engine, 14ULL * 31 * 86400, &expiring) == SCIM_RESULT_OK);
  CHECK(strstr(expiring, id) != NULL); /* the 13-month token */
  scim_string_free(expiring);
  /* A window past the representable time is refused, not a panic. */
  expiring = NULL;
  CHECK(scim_token_list_expiring(engine, UINT64_MAX, &expiring) == SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(expiring == NULL);
  scim_string_free(events);

  /* The built-in server answers the same request over a socket. */
  scim_server *server = NULL;
  char *address = NULL;
  CHECK(scim_server_start(engine, "{\"listen\": \"127.0.0.1:0\"}", &server) == SCIM_RESULT_OK);
  CHECK(scim_server_address_get(server, &address) == SCIM_RESULT_OK);
  const char *colon = strrchr(address, ':');
  int port = colon ? atoi(colon + 1) : 0;
  CHECK(port > 0);
  char reply[4096];
  http_get(port, path, secret, reply, sizeof reply);
  CHECK(strncmp(reply, "HTTP/1.1 200", 12) == 0);
  CHECK(strstr(reply, "ada@example.com") != NULL);
  /* No admin API unless asked for. */
  http_get(port, "/admin/api/directories", "scimadm_0123456789abcdef01234567", reply,
           sizeof reply);
  CHECK(strncmp(reply, "HTTP/1.1 404", 12) == 0);
  scim_string_free(address);
  scim_server_free(server);

  /* The admin API with its own credential: never a SCIM token. */
  scim_server *admin = NULL;
  CHECK(scim_server_start(engine,
                          "{\"listen\": \"127.0.0.1:0\", \"admin\": {\"credential\": "
                          "\"scim_0123456789abcdef0123456789\"}}",
                          &admin) == SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(admin == NULL);
  CHECK(scim_server_start(engine,
                          "{\"listen\": \"127.0.0.1:0\", \"admin\": {\"credential\": \"short\"}}",
                          &admin) == SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(scim_server_start(engine,
                          "{\"listen\": \"127.0.0.1:0\", \"admin\": {\"credential\": "
                          "\"adm-0123456789abcdef0123456789\", \"allow_remote\": false}}",
                          &admin) == SCIM_RESULT_OK);
  CHECK(scim_server_address_get(admin, &address) == SCIM_RESULT_OK);
  colon = strrchr(address, ':');
  port = colon ? atoi(colon + 1) : 0;
  http_get(port, "/admin/api/directories", "adm-0123456789abcdef0123456789", reply,
           sizeof reply);
  CHECK(strncmp(reply, "HTTP/1.1 200", 12) == 0);
  CHECK(strstr(reply, "\"tenantUrl\"") != NULL);
  http_get(port, "/admin/api/directories", secret, reply, sizeof reply);
  CHECK(strncmp(reply, "HTTP/1.1 401", 12) == 0);
  scim_string_free(address);
  scim_server_free(admin);

  /* Mappings and the reverse lookup. */
  char *mappings = NULL, *mapping = NULL, *user = NULL, *start = NULL;
  CHECK(scim_mapping_get(engine, id, &mappings) == SCIM_RESULT_OK);
  CHECK(strstr(mappings, "\"uem\"") && strstr(mappings, "emails[type eq \\\"work\\\"].value"));
  CHECK(scim_mapping_entry_set(engine, id, "uem", "users",
                               "{\"target\":\"nick\",\"source\":\"nickName\"}",
                               &mapping) == SCIM_RESULT_OK);
  CHECK(strstr(mapping, "\"nick\"") != NULL);
  scim_string_free(mapping);
  CHECK(scim_mapping_entry_set(engine, id, "uem", "users",
                               "{\"target\":\"x\",\"source\":\"noSuchAttribute\"}",
                               &mapping) == SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(scim_mapping_entry_set(engine, id, "fax", "users", "{\"target\":\"a\",\"source\":\"title\"}", &mapping) ==
        SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(scim_mapping_entry_remove(engine, id, "uem", "users", "email", &mapping) ==
        SCIM_RESULT_INVALID_ARGUMENT); /* required */
  CHECK(scim_user_find(engine, id, "uem", "email", "ADA@example.com", &user) == SCIM_RESULT_OK);
  CHECK(strstr(user, "\"externalId\":\"00u1\"") != NULL);
  scim_string_free(user);
  CHECK(scim_user_find(engine, id, "uem", "email", "nobody@example.com", &user) == SCIM_RESULT_OK);
  CHECK(strcmp(user, "null") == 0);
  scim_string_free(user);
  uint64_t resynced = 0;
  CHECK(scim_mapping_resync(engine, id, &resynced) == SCIM_RESULT_OK && resynced == 1);
  scim_string_free(mappings);

  /* Push delivery: the resync's user.updated reaches the callback on the library's
   * thread; freeing the subscription calls the finalizer once. */
  scim_subscription *sub = NULL;
  received = NULL;
  finalized = 0;
  CHECK(scim_subscription_start(engine, id, NULL, NULL, on_finalize, &sub) ==
        SCIM_RESULT_NULL_PARAMETER);
  CHECK(strcmp(scim_last_error(), "callback is NULL") == 0);
  CHECK(scim_subscription_start(engine, "nope", on_events, NULL, on_finalize, &sub) ==
        SCIM_RESULT_NOT_FOUND);
  CHECK(sub == NULL && __atomic_load_n(&finalized, __ATOMIC_ACQUIRE) == 0);
  int marker = 0;
  CHECK(scim_subscription_start(engine, id, on_events, &marker, on_finalize, &sub) ==
        SCIM_RESULT_OK);
  /* Generous: a loaded machine may be slow to run the thread. */
  for (int waited = 0; waited < 600 && !__atomic_load_n(&received, __ATOMIC_ACQUIRE); waited++)
    usleep(50 * 1000);
  scim_subscription_free(sub); /* joins the thread: everything it wrote is visible */
  CHECK(received != NULL && strstr(received, "\"kind\":\"user.updated\"") != NULL);
  CHECK(finalized == 1 && finalized_with == &marker);
  free(received);
  received = NULL;

  /* Login needs OpenID Connect settings first. */
  CHECK(scim_login_begin(engine, id, &start) == SCIM_RESULT_WRONG_STATE);
  CHECK(scim_oidc_configure(engine, id, "{\"config\":{\"client_id\":\"c\"}}", &dir_json) ==
        SCIM_RESULT_INVALID_JSON);
  CHECK(scim_oidc_configure(engine, id,
                            "{\"config\":{\"client_id\":\"c\",\"client_secret\":\"s\","
                            "\"config_url\":\"http://idp.example/.well-known/openid-configuration\"}}",
                            &dir_json) == SCIM_RESULT_INVALID_ARGUMENT); /* http refused */
  CHECK(scim_oidc_configure(engine, id,
                            "{\"config\":{\"client_id\":\"c\",\"client_secret\":\"s\","
                            "\"config_url\":\"https://idp.example/.well-known/openid-configuration\"},"
                            "\"attribute\":\"externalId\"}",
                            &dir_json) == SCIM_RESULT_OK);
  CHECK(strstr(dir_json, "/login/") && strstr(dir_json, "/callback\"") && !strstr(dir_json, "\"s\""));
  scim_string_free(dir_json);
  CHECK(scim_login_complete(engine, id, "code", "forged-state", &start) ==
        SCIM_RESULT_LOGIN_REFUSED);
  CHECK(strncmp(scim_last_error(), "state_unknown", 13) == 0);
  CHECK(scim_oidc_clear(engine, id) == SCIM_RESULT_OK);
  CHECK(scim_login_begin(engine, id, &start) == SCIM_RESULT_WRONG_STATE);
  char *login = NULL;
  CHECK(scim_id_token_validate(engine, id, "e30.e30.sig", "n-1", &login) == SCIM_RESULT_WRONG_STATE);
  CHECK(scim_id_token_validate(engine, id, "e30.e30.sig", NULL, &login) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(strcmp(scim_last_error(), "nonce is NULL") == 0);
  CHECK(login == NULL);
  CHECK(scim_mapping_reset(engine, id, "uem", "rfc", &mapping) == SCIM_RESULT_OK);
  CHECK(strstr(mapping, "\"nick\"") == NULL && strstr(mapping, "\"rfc\"") != NULL);
  scim_string_free(mapping);
  CHECK(scim_mapping_reset(engine, id, "uem", "ldap", &mapping) == SCIM_RESULT_INVALID_ARGUMENT);

  /* A response without a body: NULL and 0. */
  char *user_id = NULL;
  CHECK(scim_user_find(engine, id, "access", "email", "ada@example.com", &user) == SCIM_RESULT_OK);
  CHECK((user_id = json_string(user, "id")) != NULL);
  scim_string_free(user);
  char user_path[512];
  snprintf(user_path, sizeof user_path, "%s/%s", path, user_id);
  free(user_id);
  resp = request(engine, "DELETE", user_path, secret, NULL, &view);
  CHECK(view.status == 204 && view.body == NULL && view.body_len == 0);
  scim_response_free(resp);

  /* Domain, services and settings change; a bad domain changes nothing. */
  CHECK(scim_directory_update(engine, id, "{\"domain\":\"example.org\"}", &dir_json) ==
        SCIM_RESULT_OK);
  CHECK(strstr(dir_json, "\"domain\":\"example.org\"") != NULL);
  scim_string_free(dir_json);
  dir_json = NULL;
  CHECK(scim_directory_update(engine, id, "{\"domain\":\"nodot\"}", &dir_json) ==
        SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(strncmp(scim_last_error(), "domain", 6) == 0 && dir_json == NULL);
  CHECK(scim_directory_update(engine, id, "{\"name\":\"Renamed\"}", &dir_json) ==
        SCIM_RESULT_INVALID_JSON); /* the name is fixed */
  CHECK(scim_directory_get(engine, id, &dir_json) == SCIM_RESULT_OK);
  CHECK(strstr(dir_json, "\"domain\":\"example.org\"") && strstr(dir_json, "\"C Directory\""));
  scim_string_free(dir_json);
  dir_json = NULL;

  /* A revoked token fails every request from then on. */
  CHECK(scim_token_revoke(engine, id) == SCIM_RESULT_OK);
  resp = request(engine, "GET", path, secret, NULL, &view);
  CHECK(view.status == 401);
  scim_response_free(resp);
  CHECK(scim_token_revoke(engine, "nope") == SCIM_RESULT_NOT_FOUND);

  CHECK(scim_directory_delete(engine, id) == SCIM_RESULT_OK);
  CHECK(scim_directory_get(engine, id, &dir_json) == SCIM_RESULT_NOT_FOUND);
  free(id);
  free(tenant);
  free(secret);
  scim_string_free(token_json);
  scim_engine_free(engine);
}

int main(void) {
  misuse();
  kinds();
  flow();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
