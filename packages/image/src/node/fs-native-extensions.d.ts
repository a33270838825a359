// The part of fs-native-extensions (N-API, prebuilds in the package) that
// file-lock.ts uses. It ships no types of its own.
declare module "fs-native-extensions" {
  /** false when another holder conflicts (EAGAIN); throws for anything else. */
  export function tryLock(fd: number, offset: number, length: number, options: { shared: boolean }): boolean;
  export function unlock(fd: number, offset: number, length: number): void;
}
