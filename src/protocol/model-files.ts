/**
 * Model files the user picks in the popup (a tfjs model.json and its weight shards) travel to the
 * service worker through the extension's own IndexedDB, not through a message: a MobileNet-sized model
 * is megabytes, and a message carries JSON. The popup stores the set and sends its key in a
 * 'probe/user-model' request (source kind 'files'); the worker reads it by that key. One set is kept:
 * storing a new one replaces it; nothing from web pages is ever stored here. Works wherever
 * `indexedDB` exists (extension pages and the service worker share the extension's origin).
 */
import { ProbeError } from '../core/errors';

const DB = 'probe-model-files';
const STORE = 'sets';
const VERSION = 1;

/** One picked file: its name and bytes. */
export interface StoredModelFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

interface Row {
  readonly key: string;
  readonly files: { readonly name: string; readonly bytes: ArrayBuffer }[];
  readonly savedAt: number;
}

function idb(): IDBFactory {
  const f = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!f) throw new ProbeError('INTERNAL', 'This browser context has no IndexedDB: pick the files again or load the model by URL.');
  return f;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = idb().open(DB, VERSION);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: 'key' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new ProbeError('INTERNAL', `The model-file store did not open: ${req.error?.message ?? 'unknown error'}`));
  });
}

async function tx<T>(mode: IDBTransactionMode, run: (s: IDBObjectStore) => IDBRequest<T> | void): Promise<T | undefined> {
  const db = await open();
  try {
    return await new Promise<T | undefined>((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const req = run(t.objectStore(STORE));
      t.oncomplete = () => resolve(req ? req.result : undefined);
      t.onerror = () => reject(new ProbeError('INTERNAL', `The model-file store failed: ${t.error?.message ?? 'unknown error'}`));
      t.onabort = () => reject(new ProbeError('INTERNAL', `The model-file store failed: ${t.error?.message ?? 'aborted'}`));
    });
  } finally {
    db.close();
  }
}

/** A fresh random key (32 hex digits). */
function newKey(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Stores `files` as the one kept set (any earlier set is deleted) and returns its key. */
export async function putModelFiles(files: readonly StoredModelFile[]): Promise<string> {
  const key = newKey();
  const row: Row = {
    key,
    files: files.map((f) => ({ name: f.name, bytes: f.bytes.buffer.slice(f.bytes.byteOffset, f.bytes.byteOffset + f.bytes.byteLength) as ArrayBuffer })),
    savedAt: Date.now(),
  };
  await tx('readwrite', (s) => {
    s.clear();
    s.put(row);
  });
  return key;
}

/** The set stored under `key`, or null when it is gone (replaced by a newer set, or the browser cleared it). */
export async function getModelFiles(key: string): Promise<StoredModelFile[] | null> {
  const row = (await tx<Row | undefined>('readonly', (s) => s.get(key) as IDBRequest<Row | undefined>)) ?? undefined;
  if (!row) return null;
  return row.files.map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes) }));
}

/** Deletes every stored set. */
export async function clearModelFiles(): Promise<void> {
  await tx('readwrite', (s) => {
    s.clear();
  });
}
