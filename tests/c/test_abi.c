/* The C ABI as a C host uses it: the whole flow, and every misuse returning its code. */
#define _POSIX_C_SOURCE 200809L
#include "scim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int passed = 0, failed = 0;

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

/* The string value of "key" in a flat JSON object (enough for ids and secrets). */
static char *json_string(const char *json, const char *key) {
  char pattern[128];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  const char *start = strstr(json, pattern);
  if (!start) return NULL;
  start += strlen(pattern);
  const char *end = strchr(start, '"');
  if (!end) return NULL;
  return strndup(start, (size_t)(end - start));
}

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

static scim_response *request(scim_engine *engine, const char *method, const char *path,
                              const char *token, const char *body) {
  char auth[256];
  snprintf(auth, sizeof auth, "Bearer %s", token);
  scim_header headers[2] = {{"Authorization", auth}, {"Content-Type", "application/scim+json"}};
  scim_request req = {method, path, NULL, headers, 2, (const uint8_t *)body,
                      body ? strlen(body) : 0};
  scim_response *resp = NULL;
  CHECK(scim_handle(engine, &req, &resp) == SCIM_RESULT_OK);
  return resp;
}

/* Which refusal: each failure's code is the kind the library set, not a guess. */
static void kinds(void) {
  scim_engine *engine = NULL;
  char *out = NULL;
  const char *key_a = "{\"secrets_key\": "
                      "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"}";
  const char *key_b = "{\"secrets_key\": "
                      "\"1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100\"}";
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

  /* A client secret sealed with one key does not open with another. */
  char path[] = "/tmp/libscim-kinds-XXXXXX";
  CHECK(mkdtemp(path) != NULL);
  char db[64];
  snprintf(db, sizeof db, "%s/scim.db", path);
  CHECK(scim_engine_open(db, key_a, &engine) == SCIM_RESULT_OK);
  CHECK(scim_directory_create(engine,
                              "{\"name\":\"Kinds\",\"domain\":\"example.com\","
                              "\"idp\":\"okta\",\"services\":[\"uem\"]}",
                              &out) == SCIM_RESULT_OK);
  char *id = json_string(out, "id");
  scim_string_free(out);
  CHECK(scim_token_issue(engine, id, 25, &out) == SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(scim_events_ack(engine, id, 99) == SCIM_RESULT_CONFLICT);
  CHECK(scim_oidc_configure(engine, id,
                            "{\"config\":{\"client_id\":\"c\",\"client_secret\":\"s\","
                            "\"config_url\":\"https://idp.example/.well-known/openid-configuration\"}}",
                            &out) == SCIM_RESULT_OK);
  scim_string_free(out);
  scim_engine_free(engine);
  engine = NULL;
  CHECK(scim_engine_open(db, key_b, &engine) == SCIM_RESULT_OK);
  CHECK(scim_login_begin(engine, id, &out) == SCIM_RESULT_SECRETS_KEY);
  CHECK(strstr(scim_last_error(), "secrets_key") != NULL);
  scim_engine_free(engine);
  engine = NULL;
  CHECK(scim_engine_open(db, NULL, &engine) == SCIM_RESULT_OK);
  CHECK(scim_login_begin(engine, id, &out) == SCIM_RESULT_SECRETS_KEY);
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
  char cleanup[160];
  snprintf(cleanup, sizeof cleanup, "rm -rf '%s'", path);
  CHECK(system(cleanup) == 0);
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
  CHECK(scim_events_ack(engine, "nope", 1) == SCIM_RESULT_NOT_FOUND);

  scim_request req = {"GET", NULL, NULL, NULL, 0, NULL, 0};
  scim_response *resp = NULL;
  CHECK(scim_handle(engine, &req, &resp) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(scim_handle(engine, NULL, &resp) == SCIM_RESULT_NULL_PARAMETER);
  req.path = "/scim/v2/x/Users";
  req.body_len = 3; /* a length without a body */
  CHECK(scim_handle(engine, &req, &resp) == SCIM_RESULT_NULL_PARAMETER);
  req.body_len = 0;
  req.headers_len = 1; /* headers claimed, none given */
  CHECK(scim_handle(engine, &req, &resp) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(resp == NULL);

  CHECK(scim_response_status(NULL) == 0);
  CHECK(scim_response_header_count(NULL) == 0);
  CHECK(strcmp(scim_result_name(SCIM_RESULT_PANIC), "SCIM_RESULT_PANIC") == 0);

  /* Every free accepts NULL. */
  scim_response_free(NULL);
  scim_engine_free(NULL);
  scim_string_free(NULL);
  scim_server_stop(NULL);
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
  CHECK(scim_token_issue(engine, id, 13, &token_json) == SCIM_RESULT_OK);
  char *secret = json_string(token_json, "secret");
  CHECK(secret && strncmp(secret, "scim_", 5) == 0);

  char path[256];
  snprintf(path, sizeof path, "/scim/v2/%s/Users", id);
  /* The Workspace ONE profile (the Okta default) requires the six mapped attributes. */
  scim_response *resp = request(engine, "POST", path, secret,
                                "{\"userName\":\"ada@example.com\",\"externalId\":\"00u1\","
                                "\"name\":{\"givenName\":\"Ada\",\"familyName\":\"Lovelace\"},"
                                "\"emails\":[{\"value\":\"ada@example.com\",\"type\":\"work\"}],"
                                "\"active\":true}");
  CHECK(scim_response_status(resp) == 201);
  const uint8_t *body = NULL;
  size_t len = 0;
  CHECK(scim_response_body(resp, &body, &len) == SCIM_RESULT_OK);
  CHECK(len > 0 && memmem(body, len, "ada@example.com", 15) != NULL);
  int saw_location = 0;
  for (size_t i = 0; i < scim_response_header_count(resp); i++) {
    const char *name, *value;
    CHECK(scim_response_header(resp, i, &name, &value) == SCIM_RESULT_OK);
    if (strcmp(name, "Location") == 0) saw_location = strstr(value, tenant) == value;
  }
  CHECK(saw_location);
  const char *name = NULL, *value = NULL;
  CHECK(scim_response_header(resp, 99, &name, &value) == SCIM_RESULT_INVALID_ARGUMENT);
  /* Every part in one call: the same status, body and headers (in order) as the
   * accessors one by one. */
  scim_response_view view;
  memset(&view, 0, sizeof view);
  CHECK(scim_response_read(resp, &view) == SCIM_RESULT_OK);
  CHECK(view.status == 201 && view.body == body && view.body_len == len);
  CHECK(view.headers != NULL && view.headers_len == scim_response_header_count(resp));
  CHECK(view.headers_len >= 2);
  for (size_t i = 0; i < view.headers_len; i++) {
    CHECK(scim_response_header(resp, i, &name, &value) == SCIM_RESULT_OK);
    CHECK(strcmp(view.headers[i].name, name) == 0 && strcmp(view.headers[i].value, value) == 0);
  }
  CHECK(scim_response_read(resp, NULL) == SCIM_RESULT_NULL_PARAMETER);
  CHECK(scim_response_read(NULL, &view) == SCIM_RESULT_NULL_PARAMETER);
  scim_response_free(resp);

  resp = request(engine, "GET", path, "scim_wrong", NULL);
  CHECK(scim_response_status(resp) == 401);
  scim_response_free(resp);

  CHECK(scim_events_next(engine, id, 10, 1000, &events) == SCIM_RESULT_OK);
  CHECK(strstr(events, "\"kind\":\"user.created\"") != NULL);
  CHECK(strstr(events, "\"seq\":1") != NULL);
  CHECK(scim_events_ack(engine, id, 1) == SCIM_RESULT_OK);
  CHECK(scim_events_ack(engine, id, 99) == SCIM_RESULT_CONFLICT);
  /* Rewind delivers the unacknowledged rest again. Retention deletes acknowledged events
   * as the cursor advances, so prune finds none left. */
  CHECK(scim_events_rewind(engine, id) == SCIM_RESULT_OK);
  char *stats = NULL;
  CHECK(scim_events_stats(engine, id, &stats) == SCIM_RESULT_OK);
  CHECK(strstr(stats, "\"acked\":1") != NULL);
  scim_string_free(stats);
  uint64_t pruned = 99;
  CHECK(scim_events_prune(engine, id, &pruned) == SCIM_RESULT_OK && pruned == 0);
  CHECK(scim_events_prune(engine, id, NULL) == SCIM_RESULT_NULL_PARAMETER);
  /* A consumer group of its own starts at the oldest event kept: none (the only group,
   * "default", acknowledged event 1, so retention deleted it). */
  char *group_events = NULL;
  CHECK(scim_events_next_group(engine, id, "audit", 10, 0, &group_events) == SCIM_RESULT_OK);
  CHECK(strcmp(group_events, "[]") == 0);
  scim_string_free(group_events);
  CHECK(scim_events_ack_group(engine, id, "audit", 99) == SCIM_RESULT_CONFLICT);
  CHECK(scim_events_ack_group(engine, id, "audit", 1) == SCIM_RESULT_OK);
  CHECK(scim_events_rewind_group(engine, id, "audit") == SCIM_RESULT_OK);
  group_events = NULL;
  CHECK(scim_events_next_group(engine, id, "", 10, 0, &group_events) ==
        SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(group_events == NULL);
  CHECK(scim_events_next_group(engine, id, NULL, 10, 0, &group_events) ==
        SCIM_RESULT_NULL_PARAMETER);
  char *groups = NULL;
  CHECK(scim_events_groups(engine, id, &groups) == SCIM_RESULT_OK);
  CHECK(strstr(groups, "\"group\":\"audit\",\"acked\":1") != NULL);
  CHECK(strstr(groups, "\"group\":\"default\",\"acked\":1") != NULL);
  scim_string_free(groups);
  char *expiring = NULL;
  CHECK(scim_tokens_expiring(engine, 3600, &expiring) == SCIM_RESULT_OK);
  CHECK(strcmp(expiring, "[]") == 0);
  scim_string_free(expiring);
  CHECK(scim_tokens_expiring(engine, 14ULL * 31 * 86400, &expiring) == SCIM_RESULT_OK);
  CHECK(strstr(expiring, id) != NULL); /* the 13-month token */
  scim_string_free(expiring);
  /* A window past the representable time is refused, not a panic. */
  expiring = NULL;
  CHECK(scim_tokens_expiring(engine, UINT64_MAX, &expiring) == SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(expiring == NULL);
  scim_string_free(events);

  /* The built-in server answers the same request over a socket. */
  scim_server *server = NULL;
  char *address = NULL;
  CHECK(scim_server_start(engine, "{\"listen\": \"127.0.0.1:0\"}", &server) == SCIM_RESULT_OK);
  CHECK(scim_server_address(server, &address) == SCIM_RESULT_OK);
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
  scim_server_stop(server);

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
  CHECK(scim_server_address(admin, &address) == SCIM_RESULT_OK);
  colon = strrchr(address, ':');
  port = colon ? atoi(colon + 1) : 0;
  http_get(port, "/admin/api/directories", "adm-0123456789abcdef0123456789", reply,
           sizeof reply);
  CHECK(strncmp(reply, "HTTP/1.1 200", 12) == 0);
  CHECK(strstr(reply, "\"tenantUrl\"") != NULL);
  http_get(port, "/admin/api/directories", secret, reply, sizeof reply);
  CHECK(strncmp(reply, "HTTP/1.1 401", 12) == 0);
  scim_string_free(address);
  scim_server_stop(admin);

  /* Mappings and the reverse lookup. */
  char *mappings = NULL, *mapping = NULL, *user = NULL, *start = NULL;
  CHECK(scim_mappings_get(engine, id, &mappings) == SCIM_RESULT_OK);
  CHECK(strstr(mappings, "\"uem\"") && strstr(mappings, "emails[type eq \\\"work\\\"].value"));
  CHECK(scim_mapping_set_entry(engine, id, "uem", "users",
                               "{\"target\":\"nick\",\"source\":\"nickName\"}",
                               &mapping) == SCIM_RESULT_OK);
  CHECK(strstr(mapping, "\"nick\"") != NULL);
  scim_string_free(mapping);
  CHECK(scim_mapping_set_entry(engine, id, "uem", "users",
                               "{\"target\":\"x\",\"source\":\"noSuchAttribute\"}",
                               &mapping) == SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(scim_mapping_set_entry(engine, id, "fax", "users", "{\"target\":\"a\",\"source\":\"title\"}", &mapping) ==
        SCIM_RESULT_INVALID_ARGUMENT);
  CHECK(scim_mapping_remove_entry(engine, id, "uem", "users", "email", &mapping) ==
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
  CHECK(scim_mapping_reset(engine, id, "uem", "rfc", &mapping) == SCIM_RESULT_OK);
  CHECK(strstr(mapping, "\"nick\"") == NULL && strstr(mapping, "\"rfc\"") != NULL);
  scim_string_free(mapping);
  CHECK(scim_mapping_reset(engine, id, "uem", "ldap", &mapping) == SCIM_RESULT_INVALID_ARGUMENT);

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
