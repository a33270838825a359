/*
 * seekData(fd, offset) and seekHole(fd, offset): lseek(2) with SEEK_DATA and
 * SEEK_HOLE, which Node has no API for. Each returns the offset found, or -1
 * where lseek fails with ENXIO (no data at or after `offset`, or `offset` at or
 * past the end of the file); any other failure throws an Error whose `code` is
 * the errno's name. Built by scripts/build-native.mjs; src/node/seek-data.ts
 * loads it when present and reads the whole file as data when not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <node_api.h>

static napi_value throw_errno(napi_env env, int error, const char *call) {
  const char *code = error == EBADF ? "EBADF" : error == EINVAL ? "EINVAL" : error == EOVERFLOW ? "EOVERFLOW" : "EIO";
  char message[128];
  snprintf(message, sizeof message, "%s: %s", call, strerror(error));
  napi_throw_error(env, code, message);
  return NULL;
}

static napi_value seek(napi_env env, napi_callback_info info, int whence, const char *call) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  int64_t offset;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &offset) != napi_ok ||
      offset < 0) {
    napi_throw_type_error(env, NULL, "expected (fd, offset) with offset >= 0");
    return NULL;
  }
  off_t found = lseek(fd, (off_t)offset, whence);
  if (found < 0 && errno != ENXIO) return throw_errno(env, errno, call);
  napi_value result;
  napi_create_int64(env, found < 0 ? -1 : (int64_t)found, &result);
  return result;
}

static napi_value seek_data(napi_env env, napi_callback_info info) {
  return seek(env, info, SEEK_DATA, "lseek(SEEK_DATA)");
}

static napi_value seek_hole(napi_env env, napi_callback_info info) {
  return seek(env, info, SEEK_HOLE, "lseek(SEEK_HOLE)");
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"seekData", NULL, seek_data, NULL, NULL, NULL, napi_default, NULL},
      {"seekHole", NULL, seek_hole, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 2, functions);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
