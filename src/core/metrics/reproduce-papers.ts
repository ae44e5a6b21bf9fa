/**
 * The published numbers `probe reproduce` compares with (src/core/metrics/paper-numbers.json): parsing with
 * validation, lookup, the section lookup in papers.md used to check the sources, and the comparison
 * rule between a measured and a published rate. Pure: no file access.
 */
import { ProbeError } from '../errors';

/** Where a number or claim comes from in papers.md: a level-1/2 heading (marks stripped) and a verbatim quote in its section. */
export interface PaperSource {
  readonly section: string;
  readonly quote: string;
  readonly figure?: string;
}

export interface PaperInfo {
  readonly id: string;
  readonly authors: string;
  readonly year: number;
  readonly title: string;
  readonly source: PaperSource;
}

export interface PaperNumber {
  readonly id: string;
  readonly paper: string;
  readonly what: string;
  /** As the paper writes it, in `unit`. */
  readonly value: number;
  /** '%' (percent) or '' (a plain number). */
  readonly unit: '%' | '';
  readonly source: PaperSource;
}

/** A qualitative statement of a paper (e.g. a figure's caption) that a measurement is set beside. */
export interface PaperClaim {
  readonly id: string;
  readonly paper: string;
  readonly claim: string;
  readonly source: PaperSource;
}

export interface PaperData {
  readonly sourceFile: string;
  readonly papers: readonly PaperInfo[];
  readonly numbers: readonly PaperNumber[];
  readonly claims: readonly PaperClaim[];
}

const bad = (msg: string): never => {
  throw new ProbeError('BAD_INPUT', `paper numbers: ${msg}`);
};
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (o: Record<string, unknown>, k: string, where: string): string => {
  const v = o[k];
  if (typeof v !== 'string' || v.trim() === '') bad(`${where}: "${k}" must be a non-empty string`);
  return v as string;
};
const list = (o: Record<string, unknown>, k: string): unknown[] => {
  const v = o[k];
  if (!Array.isArray(v)) bad(`"${k}" must be an array`);
  return v as unknown[];
};

/** Collapses runs of white space (papers.md has double spaces around inline maths). */
export const normaliseSpace = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** A heading as the data file names it: no leading #s, no emphasis marks around it, single spaces. */
export function headingText(line: string): string {
  return normaliseSpace(line.replace(/^#+\s*/, '').replace(/^[*_\s]+|[*_\s]+$/g, ''));
}

/** The number as written in the paper's text ("99.9", "0.94", "12"). */
export const valueText = (n: Pick<PaperNumber, 'value'>): string => String(n.value);

function parseSource(v: unknown, where: string): PaperSource {
  if (!isObj(v)) return bad(`${where}: "source" must be an object`);
  const section = text(v, 'section', `${where}.source`);
  if (/[#*_]/.test(section) || section !== normaliseSpace(section)) bad(`${where}: section "${section}" must be a heading without markdown marks or extra spaces`);
  const quote = text(v, 'quote', `${where}.source`);
  const figure = v.figure === undefined ? undefined : text(v, 'figure', `${where}.source`);
  return figure === undefined ? { section, quote } : { section, quote, figure };
}

/**
 * Validates src/core/metrics/paper-numbers.json: unique ids, every number and claim names a known paper and a
 * source section (a heading without markdown marks) and a quote, and every number's value appears
 * verbatim in its quote (so the value and its evidence cannot drift apart).
 */
export function parsePaperData(raw: unknown): PaperData {
  if (!isObj(raw)) return bad('the file must hold an object');
  const sourceFile = text(raw, 'sourceFile', 'root');
  const ids = new Set<string>();
  const fresh = (id: string, where: string): string => {
    if (ids.has(id)) bad(`${where}: duplicate id "${id}"`);
    ids.add(id);
    return id;
  };
  const papers = list(raw, 'papers').map((p, i): PaperInfo => {
    const where = `papers[${i}]`;
    if (!isObj(p)) return bad(`${where} must be an object`);
    const year = p.year;
    if (typeof year !== 'number' || !Number.isInteger(year) || year < 1900 || year > 2100) bad(`${where}: "year" must be a year`);
    return { id: fresh(text(p, 'id', where), where), authors: text(p, 'authors', where), year: year as number, title: text(p, 'title', where), source: parseSource(p.source, where) };
  });
  const paperIds = new Set(papers.map((p) => p.id));
  const paperOf = (o: Record<string, unknown>, where: string): string => {
    const id = text(o, 'paper', where);
    if (!paperIds.has(id)) bad(`${where}: unknown paper "${id}"`);
    return id;
  };
  const numbers = list(raw, 'numbers').map((e, i): PaperNumber => {
    if (!isObj(e)) return bad(`numbers[${i}] must be an object`);
    const id = text(e, 'id', `numbers[${i}]`);
    const where = `numbers[${i}] (${id})`;
    const value = e.value;
    if (typeof value !== 'number' || !Number.isFinite(value)) bad(`${where}: "value" must be a finite number`);
    const unit = e.unit;
    if (unit !== '%' && unit !== '') bad(`${where}: "unit" must be "%" or ""`);
    if (unit === '%' && ((value as number) < 0 || (value as number) > 100)) bad(`${where}: a percentage must be in [0, 100]`);
    const n: PaperNumber = { id: fresh(id, where), paper: paperOf(e, where), what: text(e, 'what', where), value: value as number, unit: unit as '%' | '', source: parseSource(e.source, where) };
    if (!normaliseSpace(n.source.quote).includes(valueText(n))) bad(`${where}: the quote does not contain the value ${valueText(n)}`);
    return n;
  });
  const claims = list(raw, 'claims').map((e, i): PaperClaim => {
    if (!isObj(e)) return bad(`claims[${i}] must be an object`);
    const id = text(e, 'id', `claims[${i}]`);
    const where = `claims[${i}] (${id})`;
    return { id: fresh(id, where), paper: paperOf(e, where), claim: text(e, 'claim', where), source: parseSource(e.source, where) };
  });
  return { sourceFile, papers, numbers, claims };
}

/** The published number with this id, or throws (a typo in the reproduce code must not go unnoticed). */
export function paperNumber(data: PaperData, id: string): PaperNumber {
  const n = data.numbers.find((x) => x.id === id);
  if (!n) throw new ProbeError('BAD_INPUT', `paper numbers: no entry "${id}"`);
  return n;
}

export function paperClaim(data: PaperData, id: string): PaperClaim {
  const c = data.claims.find((x) => x.id === id);
  if (!c) throw new ProbeError('BAD_INPUT', `paper numbers: no claim "${id}"`);
  return c;
}

export function paperInfo(data: PaperData, id: string): PaperInfo {
  const p = data.papers.find((x) => x.id === id);
  if (!p) throw new ProbeError('BAD_INPUT', `paper numbers: no paper "${id}"`);
  return p;
}

/** A published number as a fraction when it is a percentage (99.9% → 0.999), else as is. */
export const asFraction = (n: PaperNumber): number => (n.unit === '%' ? n.value / 100 : n.value);

/** The published number as the paper writes it ("99.9%", "12"). */
export const formatPaperNumber = (n: PaperNumber): string => `${valueText(n)}${n.unit}`;

/**
 * The text of the section of `markdown` under the level-1 or level-2 heading whose text (see
 * headingText) is `section`, up to the next level-1/2 heading; undefined when there is no such heading.
 * Level-3+ headings are part of a section (papers.md embeds figures of cited papers with their own).
 */
export function sectionBody(markdown: string, section: string): string | undefined {
  const lines = markdown.split('\n');
  const top = (l: string): boolean => /^#{1,2}\s/.test(l);
  const start = lines.findIndex((l) => top(l) && headingText(l) === section);
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < lines.length && !top(lines[end])) end++;
  return lines.slice(start + 1, end).join('\n');
}

/** Checks one source against papers.md: the heading exists and the quote is in its section. Returns the problem, or undefined. */
export function checkSource(markdown: string, src: PaperSource): string | undefined {
  const body = sectionBody(markdown, src.section);
  if (body === undefined) return `no level-1/2 heading "${src.section}"`;
  if (!normaliseSpace(body).includes(normaliseSpace(src.quote))) return `section "${src.section}" does not contain "${src.quote}"`;
  return undefined;
}

/** A measured rate set beside a published one. */
export interface Comparison {
  readonly measured: number;
  readonly paper: number;
  /** measured − paper (fractions). */
  readonly difference: number;
  /** Largest difference still counted as agreement. */
  readonly tolerance: number;
  readonly agrees: boolean;
}

/** Differences up to this much (half a percentage point) always count as agreement. */
export const MIN_TOLERANCE = 0.005;

/**
 * Compares two rates (fractions in [0, 1]): the measured one averages `count` items, the published
 * one `paperCount` (unknown in the papers: taken as the size of the full test set). They agree when
 * |measured − paper| ≤ max(0.5 percentage point, 2 standard errors of the difference), with the
 * binomial standard error √(p(1 − p)(1/count + 1/paperCount)) at p = the mean of the two — exact
 * for error rates, an upper bound for a mean confidence (a mean of values in [0, 1] with mean p has
 * variance ≤ p(1 − p)) — so a small --quick sample is not called a disagreement by chance alone.
 */
export function compareRates(measured: number, paper: number, count: number, paperCount: number): Comparison {
  const p = Math.min(Math.max((measured + paper) / 2, 0), 1);
  const se = count > 0 && paperCount > 0 ? Math.sqrt(p * (1 - p) * (1 / count + 1 / paperCount)) : Infinity;
  const tolerance = Math.max(MIN_TOLERANCE, 2 * se);
  const difference = measured - paper;
  return { measured, paper, difference, tolerance, agrees: Number.isFinite(measured) && Math.abs(difference) <= tolerance };
}
