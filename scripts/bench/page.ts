/**
 * docs/BENCH.md as `--md` writes it: the main table, then the scale section; the other
 * sections of the page already there (the web app's, written by bench-web.ts's runs)
 * are kept, and with `--scale-only` the main table already there is kept too.
 */
import { markdownTable, type Results, type Row } from './report.ts'
import { scaleMarkdownTable, type ScaleRow } from './scale-report.ts'

export const SCALE_HEADING = '## Scale: big accounts, the CLI, batches (issue #16)'

const mainPart = (results: Results, rows: Row[]): string => [
  '# Benchmark: orbit-account vs plain OrbitDB keyvalue',
  '',
  'Produced by `npm run bench` (`scripts/bench.ts`): our store and plain OrbitDB 4 `keyvalue` with',
  "`IPFSAccessController({ write: ['*'] })`, no encryption and plain OrbitDB identities, on the same",
  'libp2p/Helia node (`startNode`), loopback only, each scenario in a fresh child process, ours and plain',
  'alternating in every repetition. Medians with (min–max) over the repetitions.',
  '',
  markdownTable(results, rows),
  '',
  '![ours vs plain](bench.svg)',
  ''
].join('\n')

const scalePart = (results: Results, rows: ScaleRow[]): string => [
  SCALE_HEADING,
  '',
  'Produced by the same run (`npm run bench`; alone: `npm run bench -- --scale-only`, scripts/bench/scale-plan.ts).',
  'Each figure is compared with another measured in the same run; the ratio (of the two medians) is what',
  'the target is about: reopening an account filled once (`openAccount` until its last key reads, each',
  'time in a fresh process) against the smallest one; the CLI as an installed package runs it (the bundled',
  '`dist/src/cli/orbit-account.js`, built by the run first) against `node -e 0` on the same Node, run alternately;',
  'one `putMany` against plain OrbitDB\'s puts; revocation',
  'and a new device at the larger size against the smaller. Medians with (min–max) over the repetitions.',
  '',
  scaleMarkdownTable(results, rows),
  ''
].join('\n')

/** `## ` sections of a page, after its head (the part before the first one). */
const split = (page: string): { head: string, sections: string[] } => {
  const parts = page.split(/\n(?=## )/)
  const [first, ...rest] = parts
  return (first ?? '').startsWith('## ') ? { head: '', sections: parts } : { head: first ?? '', sections: rest }
}

export const benchPage = (results: Results, rows: Row[], scaleRows: ScaleRow[], existing: string | undefined): string => {
  const old = split(existing ?? '')
  const head = results.meta.scaleOnly === true && old.head.trim() !== '' ? old.head : mainPart(results, rows)
  const kept = old.sections.filter((s) => !s.startsWith(SCALE_HEADING))
  const scale = scaleRows.length > 0 ? [scalePart(results, scaleRows)] : old.sections.filter((s) => s.startsWith(SCALE_HEADING))
  return [head.trimEnd(), ...scale.map((s) => s.trimEnd()), ...kept.map((s) => s.trimEnd())].join('\n\n') + '\n'
}
