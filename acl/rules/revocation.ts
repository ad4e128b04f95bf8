/**
 * Revocation resolution: which candidate revocations count.
 *
 * A revocation R of Y voids every op of Y outside R's causal past. So R *defeats* a
 * candidate revocation C when C is such an op (C's author is Y), or when C's author holds
 * its authority through an admission signed by Y outside R's causal past (voiding that
 * add un-admits C's author, and everyone admitted through it). Defeat is not symmetric
 * in general, but it can form cycles: mutual revocations (A revokes B, B revokes A,
 * concurrently) are 2-cycles, and longer cycles exist (A revokes B, B revokes C, C
 * revokes A).
 *
 * Resolution (the grounded semantics, with seniority to break cycles):
 * 1. accept every candidate all of whose defeaters are rejected; reject every candidate
 *    defeated by an accepted one; repeat until nothing changes;
 * 2. if undecided candidates remain, they sit on cycles: accept the one whose author is
 *    the most senior (then the earliest in causal order), reject its undecided defeaters
 *    (they lost to the more senior device), and go back to 1.
 * The accepted set never holds a candidate defeated by another accepted candidate, every
 * rejected candidate is defeated by, or lost a cycle to, an accepted one, and the result
 * depends only on the causal graph. Finally, an accepted revocation whose target was
 * already revoked by another accepted revocation in its causal past is dropped: it voids
 * nothing more.
 */
import type { CausalGraph } from './graph.ts'
import type { Revocation } from './pass.ts'

export interface Resolution {
  /** The accepted revocations, by entry hash. */
  readonly accepted: Map<string, Revocation>
  /** Why each rejected candidate was rejected, by entry hash. */
  readonly verdicts: Map<string, string>
}

/** The op of `candidate`'s own authority that `revocation` would void, if any. */
export const defeatedOp = (graph: CausalGraph, revocation: Revocation, candidate: Revocation): string | undefined => {
  if (revocation.hash === candidate.hash) return undefined
  const outside = (hash: string): boolean => hash !== revocation.hash && !graph.isAncestor(hash, revocation.hash)
  if (candidate.author === revocation.target && outside(candidate.hash)) return candidate.hash
  return candidate.chain.find(a => a.author === revocation.target && outside(a.hash))?.hash
}

const byPriority = (a: Revocation, b: Revocation): number => a.seniority - b.seniority || a.index - b.index

export const resolveRevocations = (graph: CausalGraph, candidates: readonly Revocation[]): Resolution => {
  const order = [...candidates].sort(byPriority)
  const defeaters = new Map<string, Array<{ by: Revocation, op: string }>>()
  for (const c of order) {
    const list: Array<{ by: Revocation, op: string }> = []
    for (const r of order) {
      const op = defeatedOp(graph, r, c)
      if (op !== undefined) list.push({ by: r, op })
    }
    defeaters.set(c.hash, list)
  }

  const status = new Map<string, 'in' | 'out'>()
  const verdicts = new Map<string, string>()
  const reject = (c: Revocation, reason: string): void => {
    status.set(c.hash, 'out')
    verdicts.set(c.hash, reason)
  }
  for (;;) {
    for (let changed = true; changed;) {
      changed = false
      for (const c of order) {
        if (status.has(c.hash)) continue
        const list = defeaters.get(c.hash) ?? []
        const winner = list.find(d => status.get(d.by.hash) === 'in')
        if (winner !== undefined) {
          reject(c, winner.op === c.hash
            ? `voided by revocation ${winner.by.hash} of ${winner.by.target}: not in its causal past`
            : `its author's admission ${winner.op} is voided by revocation ${winner.by.hash} of ${winner.by.target}`)
          changed = true
        } else if (list.every(d => status.get(d.by.hash) === 'out')) {
          status.set(c.hash, 'in')
          changed = true
        }
      }
    }
    const best = order.find(c => !status.has(c.hash))
    if (best === undefined) break
    status.set(best.hash, 'in')
    for (const c of order) {
      if (status.has(c.hash)) continue
      if ((defeaters.get(best.hash) ?? []).some(d => d.by.hash === c.hash)) {
        reject(c, `concurrent revocation conflict lost to ${best.hash} by ${best.author}, the more senior device`)
      }
    }
  }

  const accepted = new Map<string, Revocation>()
  const chosen = order.filter(c => status.get(c.hash) === 'in')
  for (const c of chosen) {
    const redundant = chosen.some(r => r.target === c.target && graph.isAncestor(r.hash, c.hash))
    if (!redundant) accepted.set(c.hash, c)
  }
  return { accepted, verdicts }
}
