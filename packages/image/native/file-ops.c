/*
 * The file system calls Node has no API for, used by src/node/native-file-ops.ts:
 *
 *   seekData(fd, offset), seekHole(fd, offset): lseek(2) with SEEK_DATA and
 *   SEEK_HOLE; the offset found, or -1 where lseek fails with ENXIO (no data
 *   at or after `offset`, or `offset` at or past the end of the file).
 *   allocate(fd, offset, length) (Linux only): fallocate(2) in its default
 *   mode, which reserves the range without writing it; false where the file
 *   system cannot (EOPNOTSUPP), true when done.
 *
 * Any other failure throws an Error whose `code` is the errno's name. Built
 * by scripts/build-native.mjs; without it the package reads holes and writes
 * zeros instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <node_api.h>

static const char *errno_name(int error) {
  switch (error) {
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EOVERFLOW: return "EOVERFLOW";
    case ENOSPC: return "ENOSPC";
    case EFBIG: return "EFBIG";
    case EROFS: return "EROFS";
    case EPERM: return "EPERM";
    case EINTR: return "EINTR";
    default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, int error, const char *call) {
  char message[128];
  snprintf(message, sizeof message, "%s: %s", call, strerror(error));
  napi_throw_error(env, errno_name(error), message);
  return NULL;
}

/* Reads `count` arguments: an fd, then offsets that must be 0 or more. */
static int read_arguments(napi_env env, napi_callback_info info, size_t count, int32_t *fd, int64_t *numbers) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < count ||
      napi_get_value_int32(env, argv[0], fd) != napi_ok) {
    return 0;
  }
  for (size_t i = 1; i < count; i++) {
    if (napi_get_value_int64(env, argv[i], &numbers[i - 1]) != napi_ok || numbers[i - 1] < 0) return 0;
  }
  return 1;
}

static napi_value seek(napi_env env, napi_callback_info info, int whence, const char *call) {
  int32_t fd;
  int64_t offset;
  if (!read_arguments(env, info, 2, &fd, &offset)) {
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

#ifdef __linux__
static napi_value allocate(napi_env env, napi_callback_info info) {
  int32_t fd;
  int64_t range[2];
  if (!read_arguments(env, info, 3, &fd, range)) {
    napi_throw_type_error(env, NULL, "expected (fd, offset, length) with offset, length >= 0");
    return NULL;
  }
  int status;
  do {
    status = fallocate(fd, 0, (off_t)range[0], (off_t)range[1]);
  } while (status != 0 && errno == EINTR);
  if (status != 0 && errno != EOPNOTSUPP) return throw_errno(env, errno, "fallocate");
  napi_value result;
  napi_get_boolean(env, status == 0, &result);
  return result;
}
#endif

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"seekData", NULL, seek_data, NULL, NULL, NULL, napi_default, NULL},
      {"seekHole", NULL, seek_hole, NULL, NULL, NULL, napi_default, NULL},
#ifdef __linux__
      {"allocate", NULL, allocate, NULL, NULL, NULL, napi_default, NULL},
#endif
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
