// @vhdx/log: MS-VHDX 2.3 Log (entries, sequences, replay plans, and writing entries).
export { type EntryCheck, type LogDescriptor, type LogEntry, readLogEntry } from "./entry.js";
export { MAX_LOG_LENGTH } from "./ring.js";
export { planReplay, type ReplayOperation, type ReplayPlan } from "./replay.js";
export { findActiveSequence, type LogSequence } from "./sequence.js";
export { type AppendedEntry, type LogUpdate, LogWriter, type LogWriterState } from "./writer.js";
