/**
 * The user's compute-backend setting: 'probe/get-backend' / 'probe/set-backend', and the benchmark's backend for
 * one run. The preference is kept in storage (a name, never an image) and applied before the worker's first
 * backend choice; a switch waits for the jobs already queued (ProbeService.exclusive).
 */
import type { BackendName, BackendView } from '../protocol/types';
import { isBackendName } from '../protocol/types';
import { backendPreference, chooseBackend, setBackendPreference, type BackendChoice } from './engine';

/** The storage.local key of the preference (a backend name, or null for automatic). */
export const BACKEND_KEY = 'backendPreference';

export interface BackendSettingDeps {
  /** The stored preference (anything: it is checked). */
  read(): Promise<unknown>;
  write(name: BackendName | null): Promise<void>;
  /** Runs a task with no job in flight (ProbeService.exclusive). */
  exclusive<T>(task: () => Promise<T>): Promise<T>;
  /** Where tfjs-backend-wasm finds its .wasm files. */
  readonly wasmDir: string;
}

export function backendView(c: BackendChoice): BackendView {
  return { backend: c.backend, preference: backendPreference(), notUsed: c.failed, measured: c.measured ?? [] };
}

export class BackendSetting {
  /** The stored preference applied (a backend that no longer works leaves the automatic choice). */
  private readonly ready: Promise<void>;

  constructor(private readonly deps: BackendSettingDeps) {
    this.ready = deps
      .read()
      .then(async (stored) => {
        if (isBackendName(stored)) await setBackendPreference(stored, deps.wasmDir).catch(() => undefined);
      })
      .catch(() => undefined);
  }

  /** The backend every job runs on (chosen once, after the stored preference is applied). */
  async choice(): Promise<BackendChoice> {
    await this.ready;
    return chooseBackend(this.deps.wasmDir);
  }

  async view(): Promise<BackendView> {
    return backendView(await this.choice());
  }

  /** Switch to `name` (null: automatic) after the queued jobs, and store it. BACKEND_FAILED (nothing stored) where it does not work. */
  async set(name: BackendName | null): Promise<BackendView> {
    await this.ready;
    const c = await this.deps.exclusive(() => setBackendPreference(name, this.deps.wasmDir));
    await this.deps.write(name);
    return backendView(c);
  }

  /**
   * Runs `task` alone on backend `name` (the benchmark's --backend), then returns to the preference before it; with
   * no name, alone on the backend in use. Nothing is stored.
   */
  async during<T>(name: BackendName | undefined, task: (backend: BackendName) => Promise<T>): Promise<T> {
    await this.ready;
    return this.deps.exclusive(async () => {
      if (name === undefined) return task((await chooseBackend(this.deps.wasmDir)).backend);
      const before = backendPreference();
      const c = await setBackendPreference(name, this.deps.wasmDir);
      try {
        return await task(c.backend);
      } finally {
        await setBackendPreference(before, this.deps.wasmDir).catch(() => undefined);
      }
    });
  }
}
