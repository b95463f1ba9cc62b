/**
 * The open that does not block (`openAsync`): the cache file merged in parts, then its live journal in
 * slices, the event loop running between them. Whatever it cannot do this way (a small file, a file in
 * another layout, a failure, a file replaced meanwhile) it hands to the synchronous load, which decides.
 */
import * as fsp from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { FileTooLargeError, PARTS_FROM_BYTES, checkHeapFor, fileParts } from "./large-file.js";
import { nextTurn } from "./next-turn.js";
import { fileIdentity, lockIdentity, type ReaderState } from "./reader-state.js";

/** An asynchronous open reads files from this size on in parts (smaller ones take a few ms whole). */
const ASYNC_PARTS_FROM_BYTES = 1024 * 1024;
/** Parts of this size take about a millisecond to merge… */
const ASYNC_PART_BYTES = 64 * 1024;
/** …and the event loop runs once they took this long together (the garbage collector's pauses come on top), or were this many. */
const ASYNC_SLICE_MS = 2;
const ASYNC_SLICE_PARTS = 16;
/** The live journal is read in slices of this size (its lines cost more per byte than the file's). */
const ASYNC_JOURNAL_SLICE_BYTES = 256 * 1024;

/**
 * Reads the file in parts of 64 KB (large-file.ts), the event loop running whenever the parts read
 * since it last ran took `ASYNC_SLICE_MS` (or made 1 MB), then the live journal in slices of 256 KB,
 * the event loop running after each (twice when its turn was long: `nextTurn`); journals sealed by
 * processes that died are read synchronously (a fold's worth at most). Stops, having changed nothing
 * that a later read would not, when `stop()` says a synchronous load took over.
 */
export async function openInSlices(state: ReaderState, sealed: string[], stop: () => boolean, load: (sealed: string[]) => void): Promise<void> {
  const identity = fileIdentity(state.path);
  let size: number;
  try {
    size = (await fsp.stat(state.path)).size;
  } catch {
    if (!stop()) load(sealed);
    return;
  }
  if (stop()) return;
  if (size < ASYNC_PARTS_FROM_BYTES) {
    load(sealed);
    return;
  }
  let ours = false;
  try {
    checkHeapFor(state.path, size);
    let sliceEnd = performance.now() + ASYNC_SLICE_MS;
    let sliceParts = 0;
    for (const part of fileParts(state.path, ASYNC_PART_BYTES)) {
      ours = state.merge.file(part, state.path, undefined);
      if (++sliceParts < ASYNC_SLICE_PARTS && performance.now() < sliceEnd) continue;
      await nextTurn();
      if (stop()) return;
      sliceEnd = performance.now() + ASYNC_SLICE_MS;
      sliceParts = 0;
    }
  } catch (error) {
    if (error instanceof FileTooLargeError && size >= PARTS_FROM_BYTES) state.tooLarge(error, identity);
    else load(sealed); // another layout, or damaged: the synchronous path decides
    return;
  }
  // The live journal in slices too: one that an exit could not fold in may be as large as the file.
  if (!(await state.live.readFromStart(ASYNC_JOURNAL_SLICE_BYTES, stop))) return;
  if (fileIdentity(state.path) !== identity) {
    load(sealed); // replaced meanwhile: read again (what was merged stays valid)
    return;
  }
  state.adopt(identity, size, ours);
  for (const path of sealed) state.sealed.read(path, undefined);
  state.live.apply(undefined); // what was appended since the slices
  const lock = lockIdentity(state.lockPath);
  if (lock !== "") state.sealed.readAllNow(lock, state.live.identity); // a fold under way: what it sealed is in no file yet
}
