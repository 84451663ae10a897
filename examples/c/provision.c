/* A C host of libscim, end to end: a durable engine in a file, a directory and its
 * token, the built-in server answering one real HTTP request, one request answered
 * through scim_request_handle (as a host with its own HTTP server would), then the events the
 * two requests produced, drained and acknowledged.
 *
 * Build against an installed libscim:
 *   cc -std=c99 provision.c $(pkg-config --cflags --libs scim) -o provision
 * Exits 0 on success; on failure prints the step and scim_last_error(). */
#define _POSIX_C_SOURCE 200809L
#include <scim.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Stop at the first failure, naming the call and the library's message. */
#define TRY(call)                                                                 \
  do {                                                                            \
    scim_result r_ = (call);                                                      \
    if (r_ != SCIM_RESULT_OK) {                                                   \
      fprintf(stderr, "%s: %s: %s\n", #call, scim_result_name(r_), scim_last_error()); \
      exit(1);                                                                    \
    }                                                                             \
  } while (0)

static void die(const char *what) {
  fprintf(stderr, "%s\n", what);
  exit(1);
}

/* The string value of "key" in the library's compact JSON (ids, secrets, addresses:
 * no escapes in them). A real host would use its JSON library. */
static char *json_string(const char *json, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  const char *start = strstr(json, pattern);
  if (!start) return NULL;
  start += strlen(pattern);
  const char *end = strchr(start, '"');
  return end ? strndup(start, (size_t)(end - start)) : NULL;
}

/* One HTTP/1.1 request over a socket to "127.0.0.1:port"; returns the status code. */
static int http(const char *address, const char *method, const char *path, const char *token,
                const char *body) {
  const char *colon = strrchr(address, ':');
  int port = colon ? atoi(colon + 1) : 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || port <= 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
    die("cannot connect to the server");
  char request[2048];
  int n = snprintf(request, sizeof request,
                   "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/scim+json\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   method, path, address, token, strlen(body), body);
  if (n <= 0 || (size_t)n >= sizeof request || write(fd, request, (size_t)n) != n)
    die("cannot send the request");
  char reply[8192];
  size_t got = 0;
  ssize_t r;
  while (got < sizeof reply - 1 && (r = read(fd, reply + got, sizeof reply - 1 - got)) > 0)
    got += (size_t)r;
  reply[got] = '\0';
  close(fd);
  int status = 0;
  if (sscanf(reply, "HTTP/1.1 %d", &status) != 1) die("no HTTP status line in the reply");
  return status;
}

int main(void) {
  printf("libscim %s\n", scim_version());

  /* A durable engine in a fresh temporary directory. */
  char dir_template[] = "/tmp/scim-example-XXXXXX";
  if (!mkdtemp(dir_template)) die("mkdtemp failed");
  char db[256];
  snprintf(db, sizeof db, "%s/scim.db", dir_template);
  scim_engine *engine = NULL;
  TRY(scim_engine_open(db, "{\"public_url\": \"https://scim.example.com\"}", &engine));

  char *directory = NULL, *token = NULL;
  TRY(scim_directory_create(engine,
                            "{\"name\": \"Example\", \"domain\": \"example.com\","
                            " \"idp\": \"generic\", \"services\": [\"uem\"]}",
                            &directory));
  char *id = json_string(directory, "id");
  TRY(scim_token_issue(engine, id, 0, &token));
  char *secret = json_string(token, "secret");
  if (!id || !secret) die("unexpected directory or token JSON");
  printf("directory %s\n", id);

  char users[256];
  snprintf(users, sizeof users, "/scim/v2/%s/Users", id);

  /* 1. The built-in server, over a real socket. */
  scim_server *server = NULL;
  char *address = NULL;
  TRY(scim_server_start(engine, "{\"listen\": \"127.0.0.1:0\"}", &server));
  TRY(scim_server_address_get(server, &address));
  int status = http(address, "POST", users, secret,
                    "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                    " \"userName\": \"ada@example.com\", \"active\": true}");
  printf("server %s: POST Users -> %d\n", address, status);
  scim_string_free(address);
  scim_server_free(server);
  if (status != 201) die("the server did not create the user");

  /* 2. The same engine answering a request the host received itself. */
  char auth[256];
  snprintf(auth, sizeof auth, "Bearer %s", secret);
  const char *body = "{\"userName\": \"grace@example.com\", \"active\": true}";
  /* Strings cross as address and length (an HTTP parser gives them so). */
  scim_header headers[] = {
      {{"Authorization", strlen("Authorization")}, {auth, strlen(auth)}},
      {{"Content-Type", strlen("Content-Type")}, {"application/scim+json", strlen("application/scim+json")}},
  };
  scim_request request = {{"POST", 4}, {users, strlen(users)}, {NULL, 0},
                          headers, 2, (const uint8_t *)body, strlen(body)};
  scim_response *response = NULL;
  scim_response_view view; /* status, headers and body, pointing into the response */
  TRY(scim_request_handle(engine, &request, &response, &view));
  status = view.status;
  printf("scim_request_handle: POST Users -> %d (%zu bytes)\n", status, view.body_len);
  scim_response_free(response);
  if (status != 201) die("scim_request_handle did not create the user");

  /* 3. Drain the events (one per created user) and acknowledge them. */
  uint64_t last = 0;
  int count = 0;
  for (;;) {
    char *events = NULL;
    TRY(scim_event_next(engine, id, 100, 0, &events));
    int empty = strcmp(events, "[]") == 0;
    for (const char *p = events; (p = strstr(p, "\"seq\":")) != NULL; p += 6) {
      last = strtoull(p + 6, NULL, 10);
      count++;
    }
    scim_string_free(events);
    if (empty) break;
  }
  if (count != 2) die("expected two events");
  TRY(scim_event_ack(engine, id, last));
  printf("events: %d, acknowledged up to %llu\n", count, (unsigned long long)last);

  free(id);
  free(secret);
  scim_string_free(directory);
  scim_string_free(token);
  scim_engine_free(engine);
  /* The store is one file (plus SQLite's journal files while open). */
  const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
    char file[300];
    snprintf(file, sizeof file, "%s%s", db, suffixes[i]);
    unlink(file);
  }
  if (rmdir(dir_template) != 0) die("cannot remove the temporary directory");
  return 0;
}
