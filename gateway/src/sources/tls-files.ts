// The HTTPS listener's certificate and key, read from files (in a cluster: a Secret mounted
// as a volume) and read again when they change, so a rotated certificate (cert-manager
// renewing it) is served to new connections without a restart. Kubernetes updates a
// mounted Secret by swapping a symlink, which a watch on the file itself can miss: the
// directory is watched, and the files are also compared every few seconds as a fallback.
// A pair that does not load (half-written, key not matching) is refused; the previous one
// keeps serving.
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { dirname } from "node:path";
import { createSecureContext } from "node:tls";

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

export interface TlsFilesOptions {
  certFile: string;
  keyFile: string;
  /** A new pair loaded; the listener should use it for new connections. */
  onChange: (pair: KeyPair) => void;
  onError: (err: Error) => void;
  pollMs?: number;
}

/** Reads and checks a pair; throws with the file names when it does not make a TLS context. */
export function readKeyPair(certFile: string, keyFile: string): KeyPair {
  const pair = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new Error(`TLS certificate ${certFile} / key ${keyFile}: ${(err as Error).message}`);
  }
  return pair;
}

export function watchTlsFiles(initial: KeyPair, o: TlsFilesOptions): { close(): void } {
  let current = initial;
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    let next: KeyPair;
    try {
      next = readKeyPair(o.certFile, o.keyFile);
    } catch (err) {
      o.onError(err as Error);
      return;
    }
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) return;
    current = next;
    o.onChange(next);
  };
  // Cert and key are usually replaced together: wait for the burst of events to settle.
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(check, 100);
  };
  const watchers: FSWatcher[] = [...new Set([dirname(o.certFile), dirname(o.keyFile)])].map((dir) =>
    watch(dir, soon),
  );
  const poll = setInterval(check, o.pollMs ?? 5_000);
  poll.unref();
  return {
    close: () => {
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}
