// Watching a standalone config directory. `fs.watch(dir, { recursive: true })` on Linux
// watches each file's inode: after a rename-save (`sed -i`, an editor's safe write,
// `mv new policy.yaml`) it keeps watching the replaced inode and misses every later edit.
// So this watches directories only (an inotify watch on a directory reports its entries'
// edits, creations and renames, whatever inode the name points to), re-establishes those
// watches when directories appear, vanish or are swapped behind a symlink, and polls a
// fingerprint of every file (inode, size, times, through symlinks) as a safety net for
// what no directory event reports: an edit to a symlink's target outside the directory.
// Kubernetes ConfigMap and Secret volumes are that layout — `policy.yaml -> ..data/policy.yaml`,
// `..data -> ..2026_01_01_00_00_00.1` swapped atomically — and the swap is a rename in the
// top directory, which its watch reports.
import { type FSWatcher, readdirSync, type Stats, statSync, watch } from "node:fs";
import { join } from "node:path";

export interface DirectoryWatch {
  close(): void;
}

export interface DirectoryWatchOptions {
  /** How often the fingerprint is compared; 0 turns the safety net off (tests of events alone). */
  pollMs?: number;
}

interface Scan {
  /** Every non-dot entry the reader could read, with what identifies its content. */
  fingerprint: string;
  /** Directory path → identity of what it resolves to (device:inode). */
  dirs: Map<string, string>;
}

// The reader skips dot-files and dot-directories, so the watch does too, except the
// ConfigMap volume's `..data` symlink (and `..data_tmp`, its name before the swap).
const relevant = (name: string | null) => name === null || !name.startsWith(".") || name.startsWith("..data");

const identity = (s: Stats) => `${s.dev}:${s.ino}`;

/** Walks `dir` as the reader does (following symlinks, skipping dot names); never throws. */
function scan(dir: string): Scan {
  const lines: string[] = [];
  const dirs = new Map<string, string>();
  const walk = (path: string, seen: Set<string>) => {
    let names: string[];
    try {
      names = readdirSync(path).sort();
    } catch (err) {
      lines.push(`${path}\0${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
      return;
    }
    for (const name of names) {
      if (name.startsWith(".")) continue;
      const child = join(path, name);
      let s: Stats;
      try {
        s = statSync(child);
      } catch (err) {
        lines.push(`${child}\0${(err as NodeJS.ErrnoException).code ?? "missing"}`);
        continue;
      }
      if (s.isDirectory()) {
        const id = identity(s);
        lines.push(`${child}/\0${id}`);
        if (seen.has(id)) continue; // a symlink loop
        dirs.set(child, id);
        walk(child, new Set(seen).add(id));
      } else {
        lines.push(`${child}\0${identity(s)}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`);
      }
    }
  };
  try {
    const top = statSync(dir);
    dirs.set(dir, identity(top));
    walk(dir, new Set([identity(top)]));
  } catch (err) {
    lines.push(`${dir}\0${(err as NodeJS.ErrnoException).code ?? "missing"}`);
  }
  return { fingerprint: lines.join("\n"), dirs };
}

/**
 * Calls `onChange` (debounced by `debounceMs`) whenever a file the directory's reader
 * would read may have changed: on directory events at once, and within `pollMs` when only
 * the fingerprint tells.
 */
export function watchDirectory(
  dir: string,
  onChange: () => void,
  debounceMs = 200,
  { pollMs = 1000 }: DirectoryWatchOptions = {},
): DirectoryWatch {
  const watchers = new Map<string, { id: string; watcher: FSWatcher }>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const changed = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, debounceMs);
  };

  // Keeps one watch per directory the reader descends into, re-made when the path now
  // resolves to another directory (a swapped symlink) or its watch ended with an error.
  const sync = (dirs: Map<string, string>) => {
    for (const [path, w] of watchers) {
      if (dirs.get(path) !== w.id) {
        w.watcher.close();
        watchers.delete(path);
      }
    }
    for (const [path, id] of dirs) {
      if (watchers.has(path)) continue;
      try {
        const watcher = watch(path, (_event, name) => {
          if (relevant(name)) changed();
        });
        // The directory was removed or renamed: drop the watch; the next scan decides.
        watcher.on("error", () => {
          watcher.close();
          if (watchers.get(path)?.watcher === watcher) watchers.delete(path);
          changed();
        });
        watchers.set(path, { id, watcher });
      } catch {
        // Gone between the scan and the watch: the next scan tries again.
      }
    }
  };

  let last = scan(dir);
  sync(last.dirs);

  // The fingerprint is taken before `onChange` reads, so an edit racing the read shows
  // as a difference on the next poll rather than being lost.
  function fire() {
    timer = undefined;
    if (closed) return;
    last = scan(dir);
    sync(last.dirs);
    onChange();
  }

  const poll =
    pollMs > 0
      ? setInterval(() => {
          if (timer) return; // a reload is already due and will rescan
          const now = scan(dir);
          sync(now.dirs);
          if (now.fingerprint !== last.fingerprint) changed();
        }, pollMs)
      : undefined;
  poll?.unref();

  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
      for (const w of watchers.values()) w.watcher.close();
      watchers.clear();
    },
  };
}
