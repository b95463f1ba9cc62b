/**
 * After other processes' folds: reading only what this process had not read of the journals they
 * sealed, from the folds' trail (fold-trail.ts), instead of the whole new file — on a call's look
 * (synchronously), and in the background (`catchUp`, in slices).
 */
import * as fs from "node:fs";
import { readTrailStep, readTrailStepInSlices, trailToFollow, type TrailStep } from "./fold-trail.js";
import { nextTurn } from "./next-turn.js";
import { fileIdentity, type ReaderState } from "./reader-state.js";

/**
 * The background reading of a large cache's journal (`catchUp`) reads slices of this size: measured
 * beside 256 KB ones, reading 2.6 MB of appends into a 15 MB cache, the longest turn fell from 19–41 ms
 * to 6–17 ms (the garbage collector's pauses fall between the turns rather than inside them).
 */
const CATCH_UP_SLICE_BYTES = 64 * 1024;

/**
 * Follows the trail from what this process read to the file there now, then reads the new live
 * journal. False when the trail does not lead there (then the file is to be read whole).
 */
export function followTrail(state: ReaderState): boolean {
  const step = trailStep(state);
  if (step === undefined || !readTrailStep(state.journalPath, step, state.onLine)) return false;
  adoptTrail(state, step);
  state.live.apply(undefined);
  return true;
}

/**
 * In the background: what others appended to the live journal since this process last looked, read
 * in slices of 64 KB with the event loop running after each, as a look reads it (the same offset,
 * moved on by whichever reads first). A process that makes no call for a while so stays near the
 * journal's end, and can follow the trail of a fold instead of reading the new file whole,
 * synchronously, on its next call. Once another process has folded, it follows that fold's trail
 * itself, in slices too, and goes on with the new journal: a process that makes no call through
 * several folds stays near the end, and its next call reads little. It never reads the file: nothing
 * is read while a fold is under way, nor once the file is another that the trail does not lead to
 * (the next look decides), nor a journal other than the one read last, unless there was none.
 */
export async function catchUp(state: ReaderState): Promise<void> {
  for (;;) {
    if (state.frozen || state.known === "" || state.replaced !== undefined) return;
    if (fs.existsSync(state.lockPath)) return;
    if (!state.unchanged()) {
      if (!(await followTrailInSlices(state))) return;
      continue;
    }
    const slice = state.live.readSlice(CATCH_UP_SLICE_BYTES);
    if (slice === "another") return;
    state.recheckFile = false; // as after a look that found no fold under way
    if (slice === "nothing") return;
    await nextTurn();
  }
}

/**
 * `followTrail` in slices, the event loop running after each; the new journal is then read in slices
 * by `catchUp`. False, having changed nothing but entries a later read would also give, when the trail
 * does not lead there or changed meanwhile, or a look took this process on meanwhile (the next look
 * decides).
 */
async function followTrailInSlices(state: ReaderState): Promise<boolean> {
  const step = trailStep(state);
  if (step === undefined) return false;
  const { from, to } = step;
  if (!(await readTrailStepInSlices(state.journalPath, step, state.onLine, CATCH_UP_SLICE_BYTES, () => state.known === from))) return false;
  if (fileIdentity(state.path) !== to) return false;
  adoptTrail(state, step);
  return true;
}

/** The way along the folds' trail from what this process read to the file there now, if there is one. */
function trailStep(state: ReaderState): TrailStep | undefined {
  return trailToFollow(state.journalPath, state.known, () => fileIdentity(state.path), (journal) => state.live.offsetIn(journal) ?? state.sealed.offsetIn(journal));
}

/** The file a followed trail led to is the one this process knows now; its journal is read from its start. */
function adoptTrail(state: ReaderState, step: TrailStep): void {
  state.adopt(step.to, step.fileBytes, true);
  state.live.forget();
}
