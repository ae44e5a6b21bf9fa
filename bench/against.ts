/**
 * `probe bench --against REF`: the workloads timed in this session on the build of a git commit (a previous
 * release) and on this working tree, alternately, workload by workload, each run in a fresh process.
 *
 * Timings on the benchmark machine vary between sessions by more than the changes they should judge (another host
 * CPU: one day the same build ran every workload 1.6–2.2× slower than the day before). `ratioToLast` compares with
 * a release saved in another session; `ratioToRef` compares two builds timed side by side, so the machine cancels.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ProbeError } from '../src/core/errors';
import { isWorkload, type BenchResult, type Workload } from '../src/core/bench';

/** The machine a benchmark ran on, in words (host CPU model × logical cores): saved with each row. */
export function machineOf(): string {
  const c = cpus();
  // Model names can hide the generation ("AMD EPYC"): on Linux, add the family and model numbers.
  let id = '';
  let mhz = c[0]?.speed ?? 0;
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const fam = /^cpu family\s*:\s*(\d+)/m.exec(info)?.[1];
    const mod = /^model\s*:\s*(\d+)/m.exec(info)?.[1];
    if (fam && mod) id = ` (family ${fam} model ${mod})`;
    if (!mhz) mhz = Math.round(Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(info)?.[1] ?? 0));
  } catch {
    // not Linux: the name and clock alone
  }
  return `${(c[0]?.model ?? 'unknown CPU').trim()}${id}${mhz ? `, ${mhz} MHz` : ''} ×${c.length}`;
}

/** A row timed against REF: this build's timing, REF's timing of the same workload in the same session, their ratio. */
export type AgainstResult = BenchResult & {
  readonly ref: string;
  readonly refMedianMs: number;
  /** medianMs / refMedianMs: below 1, this build is faster than REF on this machine now. */
  readonly ratioToRef: number;
  readonly machine: string;
};

/** Pairs this build's row with REF's row of the same workload. */
export function pairWithRef(current: BenchResult, ref: BenchResult, sha: string, machine: string): AgainstResult {
  if (current.workload !== ref.workload) throw new ProbeError('INTERNAL', `paired ${current.workload} with ${ref.workload}`);
  const { ratioToLast: _r, lastMachine: _m, ...rest } = current as BenchResult & { lastMachine?: string };
  return { ...rest, ref: sha, refMedianMs: ref.medianMs, ratioToRef: Math.round((current.medianMs / ref.medianMs) * 100) / 100, machine };
}

/** The one result row of `workload` in the JSON lines a `probe bench --json` printed (other lines are ignored). */
export function rowOf(stdout: string, workload: Workload): BenchResult {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    const r = v as Partial<BenchResult>;
    if (r && isWorkload(r.workload) && r.workload === workload && typeof r.medianMs === 'number' && r.medianMs > 0) return r as BenchResult;
  }
  throw new ProbeError('INTERNAL', `no result line for ${workload} in the benchmark's output`);
}

/** Runs one `probe bench` in `cwd` and returns its stdout (rejects with its stderr's end on failure). */
export type BenchSpawner = (cwd: string, args: readonly string[]) => Promise<string>;

const spawnProbe: BenchSpawner = (cwd, args) =>
  new Promise((resolveOut, reject) => {
    const tsx = resolve('node_modules', 'tsx', 'dist', 'cli.mjs');
    const child = spawn(process.execPath, [tsx, 'src/cli/probe.ts', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolveOut(out) : reject(new ProbeError('INTERNAL', `probe ${args.join(' ')} in ${cwd} exited with ${String(code)}: ${err.trim().slice(-400)}`)));
  });

const git = (args: readonly string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The full commit id REF names in this checkout; BAD_INPUT where it names none. */
export function resolveRef(ref: string): string {
  if (!/^[A-Za-z0-9._/~^@{}-]{1,100}$/.test(ref)) throw new ProbeError('BAD_INPUT', `--against needs a git commit (a hash, tag or branch), got "${ref}"`);
  try {
    return git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch {
    throw new ProbeError('BAD_INPUT', `--against: "${ref}" is not a commit of this checkout`);
  }
}

export interface AgainstOptions {
  /** A commit (hash, tag, branch). */
  readonly ref: string;
  /** The `--backend` value, passed to both builds as given (a Node backend or an extension one). */
  readonly backendFlag: string;
  readonly workloads: readonly Workload[];
  readonly runs?: number;
  readonly onResult?: (r: AgainstResult) => void;
  /** Replaces the process spawner (tests). */
  readonly spawnBench?: BenchSpawner;
  /** Where REF's build is checked out (default: a new temporary folder); removed afterwards. */
  readonly worktree?: string;
}

/**
 * Checks REF out in a temporary git worktree (sharing this checkout's node_modules; when the backend is an extension
 * one, REF's extension and this tree's are both built with `vite build`), then for each workload runs REF's
 * `probe bench` and this tree's, in that order, and pairs the two. The worktree is removed at the end, also on failure.
 */
export async function runBenchAgainst(opts: AgainstOptions): Promise<AgainstResult[]> {
  const sha = resolveRef(opts.ref);
  const run = opts.spawnBench ?? spawnProbe;
  const parent = opts.worktree ? null : mkdtempSync(join(tmpdir(), 'probe-against-'));
  const dir = opts.worktree ?? join(parent as string, 'tree');
  const machine = machineOf();
  git(['worktree', 'add', '--detach', '--force', dir, sha]);
  try {
    if (!existsSync(join(dir, 'node_modules'))) symlinkSync(resolve('node_modules'), join(dir, 'node_modules'), 'dir');
    const inExtension = opts.backendFlag === 'webgl' || opts.backendFlag.startsWith('extension');
    if (inExtension) {
      // Both extensions built now: a dist/ left from before an edit would time another build than this tree's.
      for (const cwd of [process.cwd(), dir]) {
        execFileSync(process.execPath, [resolve('node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'error'], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
      }
    }
    const out: AgainstResult[] = [];
    for (const w of opts.workloads) {
      const args = ['bench', '--backend', opts.backendFlag, '--workloads', w, '--json', ...(opts.runs ? ['--runs', String(opts.runs)] : [])];
      const ref = rowOf(await run(dir, args), w);
      const current = rowOf(await run(process.cwd(), args), w);
      const r = pairWithRef(current, ref, sha.slice(0, 7), machine);
      out.push(r);
      opts.onResult?.(r);
    }
    return out;
  } finally {
    try {
      git(['worktree', 'remove', '--force', dir]);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      git(['worktree', 'prune']);
    }
    if (parent) rmSync(parent, { recursive: true, force: true });
  }
}
