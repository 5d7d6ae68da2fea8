/**
 * A study's probes (`probes` in a study file): recall of the facts no edit touches, and perplexity
 * on held-out text. Both are cheap signals of what an edit costs beyond its own prompts, measured
 * at every checkpoint next to the downstream tasks.
 */
import { join } from 'node:path';
import type { CausalLM } from '../models/types.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { EditRequest } from '../edit/types.js';
import { perplexity } from '../eval/perplexity.js';
import { dataDir, readDataFile } from '../eval/data.js';
import { seededSubset } from '../eval/run.js';
import { greedyRecall, type RecallItem } from '../train/recall.js';
import { heldOutText, recallProbes, type World } from '../world/index.js';
import type { StudyProbes } from './types.js';

/** Facts probed for unrelated recall at most (a seeded sample): enough for ±2.5 % at 95 %. */
export const UNRELATED_RECALL_PROBES = 400;
/** Tokens of held-out text scored for perplexity. */
export const PERPLEXITY_TOKENS = 4096;

export interface ProbeValue {
  name: 'unrelated_recall' | 'perplexity';
  value: number;
  values: Record<string, unknown>;
}

/** Everything the probes need, prepared once per run (before any edit). */
export class StudyProbeSet {
  private readonly recallItems: RecallItem[] = [];
  private readonly text: { text: string; source: string } | null = null;

  constructor(
    private readonly probes: StudyProbes,
    private readonly tokenizer: Tokenizer,
    world: World | null,
    /** every request the study may edit (their subjects are excluded from the unrelated facts) */
    requests: readonly EditRequest[],
    seed: number,
  ) {
    if (probes.unrelated_recall) {
      if (!world) throw new Error('probes.unrelated_recall needs a world model (a model directory with world.json)');
      const edited = new Set(requests.map((r) => r.subject).filter((s): s is string => typeof s === 'string'));
      // one probe per fact: its canonical (first) train template; subjects an edit touches are not "unrelated"
      const seen = new Set<string>();
      const all = recallProbes(world, 'train-templates', { kinds: 'base' }).filter((p) => {
        const key = `${p.subject}/${p.relation}`;
        if (edited.has(p.subject) || seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      for (const p of seededSubset(all.length, UNRELATED_RECALL_PROBES, seed).map((i) => all[i]!))
        this.recallItems.push({
          prompt: tokenizer.encode(p.prompt, { addBos: false }),
          answer: tokenizer.encode(` ${p.answer}`, { addBos: false, addSpecialTokens: false }),
        });
    }
    if (probes.perplexity) {
      if (world) this.text = { text: heldOutText(world), source: 'the world’s held-out text' };
      else {
        const file = join(dataDir(), 'wikitext', 'wikitext-2-raw-test.raw');
        this.text = { text: readDataFile(file, 'probes.perplexity (no world model: WikiText-2)'), source: 'WikiText-2 (test)' };
      }
    }
  }

  /** The probes' values on the model as it is now. */
  measure(model: CausalLM): ProbeValue[] {
    const out: ProbeValue[] = [];
    if (this.recallItems.length > 0) {
      const r = greedyRecall(model, this.recallItems, { bosId: this.tokenizer.bosId });
      out.push({ name: 'unrelated_recall', value: r.accuracy, values: { facts: this.recallItems.length } });
    }
    if (this.text) {
      const p = perplexity(model, this.tokenizer, this.text.text, { maxTokens: PERPLEXITY_TOKENS });
      out.push({ name: 'perplexity', value: p.perplexity, values: { text: this.text.source, tokens: p.tokens } });
    }
    return out;
  }
}
