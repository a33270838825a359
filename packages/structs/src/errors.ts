// The one error type of the @vhdx packages. Bad bytes are always a VhdxError
// with a stable `code`; wrong argument types are programming errors and stay
// TypeErrors.

/** Stable error codes. Documented in the package README; never renamed. */
export type VhdxErrorCode =
  | "TRUNCATED"
  | "BAD_SIGNATURE"
  | "NOT_VHDX"
  | "UNSUPPORTED_FORMAT"
  | "CHECKSUM_MISMATCH"
  | "OUT_OF_RANGE"
  | "BAD_FIELD"
  | "BAD_VERSION"
  | "NO_VALID_HEADER"
  | "AMBIGUOUS_HEADER"
  | "REGION_OVERLAP"
  | "UNKNOWN_REQUIRED_REGION"
  | "UNKNOWN_REQUIRED_METADATA"
  | "MISSING_REGION"
  | "MISSING_METADATA"
  | "CORRUPT_BAT"
  | "CORRUPT_BITMAP"
  | "LOG_CORRUPT"
  | "LOG_FULL"
  | "PARENT_NOT_FOUND"
  | "PARENT_LINKAGE_MISMATCH"
  | "PARENT_LOOP"
  | "READ_ONLY"
  | "CLOSED"
  | "IO_ERROR"
  | "LOCKED"
  | "INVALID_ARGUMENT"
  | "UNSUPPORTED";

export interface VhdxErrorDetails {
  /** The on-disk structure involved, e.g. "region table". */
  structure?: string;
  /** The field of that structure, e.g. "signature". */
  field?: string;
  /** Absolute file offset of the structure or field, when known. */
  offset?: number;
  /** The file (path, URL or source name) the structure was read from, when known. */
  file?: string;
  /** The underlying error, e.g. from an I/O source. */
  cause?: unknown;
}

const VHDX_ERROR_MARKER = Symbol.for("@vhdx/structs.VhdxError");

export class VhdxError extends Error {
  readonly code: VhdxErrorCode;
  readonly structure: string | undefined;
  readonly field: string | undefined;
  readonly offset: number | undefined;
  /** The file the structure was read from, when known. */
  readonly file: string | undefined;
  /** The message without the structure and offset prefix. */
  readonly detail: string;

  constructor(code: VhdxErrorCode, detail: string, details: VhdxErrorDetails = {}) {
    super(formatMessage(detail, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "VhdxError";
    this.code = code;
    this.structure = details.structure;
    this.field = details.field;
    this.offset = details.offset;
    this.file = details.file;
    this.detail = detail;
    Object.defineProperty(this, VHDX_ERROR_MARKER, { value: true });
  }

  /**
   * `error` as it is when it already names a file, else the same error (code,
   * message, structure, offset, cause) naming `file`. For code that opens a
   * file and reports what went wrong inside it.
   */
  static inFile(error: VhdxError, file: string): VhdxError {
    if (error.file !== undefined) return error;
    const { structure, field, offset, cause } = error;
    const named = new VhdxError(error.code, error.detail, { structure, field, offset, cause, file });
    named.stack = error.stack;
    return named;
  }

  /** True for a VhdxError from any installed copy of this package. */
  static isInstance(value: unknown): value is VhdxError {
    return (
      typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[VHDX_ERROR_MARKER] === true
    );
  }
}

/** `region table @0x30000: signature is 0x00000000, expected "regi"` */
function formatMessage(detail: string, { structure, offset }: VhdxErrorDetails): string {
  if (structure === undefined) return detail;
  const at = offset === undefined ? "" : ` @0x${offset.toString(16)}`;
  return `${structure}${at}: ${detail}`;
}
