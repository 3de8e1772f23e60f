/**
 * Pure plan analysis: structured and unified diffs, the minimal `--noflush` restore between two
 * plans, iptables-save parsing and semantic rule normalisation, drift of a live node against a
 * plan, packet traces, and per-version statistics. No I/O, no clock.
 */
export { diffPlans, diffRules, type PlanDiff, type TableDiff, type ServiceDiff, type ChainRuleDiff, type DiffSummary, type DiffOptions } from './diff.js'
export { minimalRestore, deltaSize, type DeltaSize } from './minimal.js'
export { parseSave, getTable, chainRules, SaveParseError, type SaveDump, type SavedTable, type SavedChain, type SavedRule } from './save.js'
export {
  parseRule,
  canonicalRule,
  renderCanonical,
  canonicalAddress,
  saveProbability,
  restoreProbability,
  effectiveProbability,
  probabilityThreshold,
  ruleComment,
  RuleParseError,
  type ParsedRule,
  type MatchModule,
  type Opt,
} from './rule.js'
export { tokenize, saveQuote } from './tokens.js'
export { drift, serviceFromComment, type DriftReport, type ChainDrift, type ServiceDrift, type TableDrift } from './drift.js'
export { trace, traceSave, traceChains, type TracePacket, type TraceResult, type TraceEndpoint, type Verdict } from './trace.js'
export { variantSummaries, type VariantSummary } from './variants.js'
export { planStats, segmentStats, statsOf, type PlanStats, type SegmentStats, type StatsMemo } from './stats.js'
export { tablesOfPlan, restoreText, pairSegments, isServiceChain, SERVICE_CHAIN_PREFIXES } from './model.js'
export { unifiedDiff, type UnifiedDiffOptions } from './unified.js'
