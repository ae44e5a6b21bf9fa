import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ProbeError } from '../core/errors';

/** One finding of `web-ext lint` (Mozilla's addons-linter). */
export interface LintMessage {
  readonly code: string;
  readonly message: string;
  readonly file: string | null;
}

/** The findings of `web-ext lint --output json`, by severity. */
export interface LintReport {
  readonly errors: LintMessage[];
  readonly warnings: LintMessage[];
  readonly notices: LintMessage[];
  /** web-ext's exit status (non-zero when there are errors). */
  readonly exitCode: number;
}

/**
 * Warnings we accept, each with the reason (the README lists them too). Anything else fails the test.
 * - UNSAFE_VAR_ASSIGNMENT in the Preact chunk (named in vite.config.ts, shared by the popup and classroom pages): Preact's own `dangerouslySetInnerHTML` branch
 *   (`e.innerHTML = f.__html`); no code of ours uses `dangerouslySetInnerHTML`, so it never runs.
 */
export const ACCEPTED_LINT_WARNINGS: ReadonlyArray<{ readonly code: string; readonly file: RegExp; readonly reason: string }> = [
  {
    code: 'UNSAFE_VAR_ASSIGNMENT',
    file: /^assets\/preact-[\w-]+\.js$/,
    reason: "Preact's dangerouslySetInnerHTML support, unused by the popup",
  },
];

/** Is this warning one of ACCEPTED_LINT_WARNINGS? */
export function isAcceptedWarning(w: LintMessage): boolean {
  return ACCEPTED_LINT_WARNINGS.some((a) => a.code === w.code && w.file !== null && a.file.test(w.file));
}

function messages(v: unknown, what: string): LintMessage[] {
  if (!Array.isArray(v)) throw new ProbeError('BAD_INPUT', `web-ext lint: "${what}" is not a list.`);
  return v.map((m: unknown) => {
    const o = (typeof m === 'object' && m !== null ? m : {}) as { code?: unknown; message?: unknown; file?: unknown };
    if (typeof o.code !== 'string') throw new ProbeError('BAD_INPUT', `web-ext lint: a finding in "${what}" has no code.`);
    return { code: o.code, message: typeof o.message === 'string' ? o.message : '', file: typeof o.file === 'string' ? o.file : null };
  });
}

/** Parses web-ext's JSON output. Throws ProbeError('BAD_INPUT') when it is not the expected shape. */
export function parseLintOutput(stdout: string, exitCode: number): LintReport {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    throw new ProbeError('BAD_INPUT', `web-ext lint did not print JSON (exit ${exitCode}): ${stdout.slice(0, 500)}`);
  }
  const o = (typeof json === 'object' && json !== null ? json : {}) as { errors?: unknown; warnings?: unknown; notices?: unknown };
  return { errors: messages(o.errors, 'errors'), warnings: messages(o.warnings, 'warnings'), notices: messages(o.notices, 'notices'), exitCode };
}

/**
 * Runs the project's `web-ext lint` on a built add-on folder, offline (no update check, no config
 * discovery), and returns its findings. Rejects with ProbeError('TIMEOUT') after timeoutMs.
 */
export function lintFirefoxBuild(dir: string, timeoutMs = 60_000): Promise<LintReport> {
  const bin = resolve('node_modules/.bin/web-ext');
  if (!existsSync(bin)) return Promise.reject(new ProbeError('BAD_INPUT', 'web-ext is not installed (npm ci).'));
  if (!existsSync(join(dir, 'manifest.json'))) return Promise.reject(new ProbeError('BAD_INPUT', `No built add-on in ${dir} (npm run build:firefox).`));
  return new Promise((done, fail) => {
    const proc = spawn(bin, ['lint', '--source-dir', dir, '--output', 'json', '--no-config-discovery'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_UPDATE_NOTIFIER: '1' },
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    proc.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      fail(new ProbeError('TIMEOUT', `web-ext lint took longer than ${timeoutMs} ms.`));
    }, timeoutMs);
    proc.on('error', (e) => {
      clearTimeout(timer);
      fail(new ProbeError('INTERNAL', `web-ext lint did not start: ${e.message}`));
    });
    proc.on('close', (code) => {
      clearTimeout(timer);
      try {
        done(parseLintOutput(out, code ?? -1));
      } catch (e) {
        fail(e instanceof ProbeError ? new ProbeError(e.code, `${e.message}\n${err.slice(0, 2000)}`) : e);
      }
    });
  });
}
