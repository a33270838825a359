// Exit statuses of every command, in a module of their own: `vhdx --version`
// and `--help` load this and not the argument parsing or the error types.

/** 0 success. */
export const EXIT_OK = 0;
/** 1 a "no" answer: compare differs, check found corruption. */
export const EXIT_NO = 1;
/** 2 an error. */
export const EXIT_ERROR = 2;
/** 3 done, but incomplete: cat or convert --salvage read some of the disk as zeros. */
export const EXIT_INCOMPLETE = 3;
