export {
  GUID_BYTE_LENGTH,
  NIL_GUID,
  guidEquals,
  guidFromBytes,
  guidToBytes,
  isGuid,
  isNilGuid,
  normalizeGuid,
  randomGuid,
  writeGuid,
} from "./guid.js";
