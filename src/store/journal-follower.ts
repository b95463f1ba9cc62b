/**
 * Keeps processes that make no calls for a while near the end of their large caches' journals, in the
 * background: once a second, each such cache reads what the others appended since it last looked
 * (trail-following.ts `catchUp`: slices of 64 KB, the event loop running between them).
 *
 * Why: after another process's fold, a process follows the fold's trail (fold-trail.ts) only from
 * where it stopped reading the journal, and only if that is within the journal's end the trail keeps
 * (2–16 MB). One that had stopped further back (it made no call while the others appended) read the
 * new file whole, on its next call: for a 100 MB cache, seconds on its event loop. Small files (under
 * the size from which a fold leaves a trail) are read whole in milliseconds, and are not followed.
 *
 * One timer for the process, not one per cache; it never keeps the process alive, and holds the caches
 * weakly.
 */
import { TRAIL_FROM_BYTES } from "./fold-trail.js";

/** What the follower needs of a store. */
export interface Followable {
  /** The cache file's size as last read or written. */
  readonly fileBytes: number;
  /** Reads what others appended to the journal since the last look (never rejects). */
  catchUp(): Promise<void>;
}

/** How often the caches followed read their journals. */
const FOLLOW_EVERY_MS = 1000;

const followed = new Set<WeakRef<Followable>>();
const known = new WeakSet<Followable>();
let timer: NodeJS.Timeout | undefined;
let running = false;

/** Follows `store`'s journal from now on, while its file is large enough to leave trails. */
export function followJournal(store: Followable): void {
  if (store.fileBytes < TRAIL_FROM_BYTES || known.has(store)) return;
  known.add(store);
  followed.add(new WeakRef(store));
  if (timer === undefined) {
    timer = setInterval(() => void catchUpAll(), FOLLOW_EVERY_MS);
    timer.unref();
  }
}

/** Each cache in turn; one round at a time. */
async function catchUpAll(): Promise<void> {
  if (running) return;
  running = true;
  try {
    for (const ref of followed) {
      const store = ref.deref();
      if (store === undefined) followed.delete(ref);
      else if (store.fileBytes >= TRAIL_FROM_BYTES) await store.catchUp();
    }
  } finally {
    running = false;
    if (followed.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  }
}
