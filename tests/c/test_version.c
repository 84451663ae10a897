/* The header's version macros against the library it runs with: the same version, as
   a string and as a number, and the compatibility check a host makes at start-up. */
#include "scim.h"

#include <stdio.h>
#include <string.h>

int main(void) {
  int failed = 0;
  char parts[64];
  snprintf(parts, sizeof parts, "%d.%d.%d", SCIM_VERSION_MAJOR, SCIM_VERSION_MINOR,
           SCIM_VERSION_PATCH);
  /* The string starts with MAJOR.MINOR.PATCH (a pre-release suffix may follow). */
  if (strncmp(SCIM_VERSION_STRING, parts, strlen(parts)) != 0 ||
      (SCIM_VERSION_STRING[strlen(parts)] != '\0' && SCIM_VERSION_STRING[strlen(parts)] != '-' &&
       SCIM_VERSION_STRING[strlen(parts)] != '+')) {
    fprintf(stderr, "SCIM_VERSION_STRING %s does not match the parts %s\n",
            SCIM_VERSION_STRING, parts);
    failed++;
  }
  if (strcmp(scim_version(), SCIM_VERSION_STRING) != 0) {
    fprintf(stderr, "scim_version() %s, header %s\n", scim_version(), SCIM_VERSION_STRING);
    failed++;
  }
  if (scim_version_number() != (uint32_t)SCIM_VERSION_NUMBER ||
      SCIM_VERSION_NUMBER != SCIM_VERSION_MAJOR * 1000000 + SCIM_VERSION_MINOR * 1000 +
                                 SCIM_VERSION_PATCH) {
    fprintf(stderr, "scim_version_number() %u, header %u\n", (unsigned)scim_version_number(),
            (unsigned)SCIM_VERSION_NUMBER);
    failed++;
  }
  /* The check a host makes (documented at scim_version_number). */
  uint32_t lib = scim_version_number();
  if (!(lib / 1000000 == SCIM_VERSION_MAJOR && lib >= (uint32_t)SCIM_VERSION_NUMBER)) {
    fprintf(stderr, "the library %u is not compatible with its own header\n", (unsigned)lib);
    failed++;
  }
  printf("test_version: %s (%u), %s\n", scim_version(), (unsigned)lib,
         failed ? "FAILED" : "ok");
  return failed ? 1 : 0;
}
