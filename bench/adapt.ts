/**
 * npm run bench adapt -- --data DEV --data ASIA [--recognizer MODEL]
 * An experiment, not a feature: does a population adaptation of the embeddings, fitted on
 * East-Asian faces, separate East-Asian strangers better? Within-class whitening (the embedding
 * minus the population mean, times Sw^-1/2 where Sw is the regularised within-identity scatter),
 * then cosine. Two-fold by identity: fitted on half of the ASIA identities, measured on the
 * other half (plus every DEV photo), and the other way round; the raw embeddings on the same pairs.
 */
import pino from 'pino';
import { FaceEngine } from '../src/faceid/engine.js';
import * as evaluate from '../src/faceid/evaluate.js';
import type { Metric } from '../src/faceid/metric.js';

type Vec = number[];

function symmetricEigen(a: number[][]): { values: number[]; vectors: number[][] } {
  // Cyclic Jacobi: plenty for 128×128, once per fold.
  const n = a.length;
  const m = a.map((r) => [...r]);
  const v: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p]![q]! ** 2;
    if (off < 1e-18) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(m[p]![q]!) < 1e-15) continue;
        const theta = (m[q]![q]! - m[p]![p]!) / (2 * m[p]![q]!);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k]![p]!;
          const mkq = m[k]![q]!;
          m[k]![p] = c * mkp - s * mkq;
          m[k]![q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p]![k]!;
          const mqk = m[q]![k]!;
          m[p]![k] = c * mpk - s * mqk;
          m[q]![k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k]![p]!;
          const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: m.map((r, i) => r[i]!), vectors: v };
}

/** x ↦ Sw^-1/2 (x − mean), fitted on labelled embeddings. */
function fitWhitening(samples: Array<{ id: string; e: Vec }>, reg: number): (x: Vec) => Vec {
  const d = samples[0]!.e.length;
  const mean = new Array<number>(d).fill(0);
  for (const s of samples) s.e.forEach((x, i) => (mean[i]! += x / samples.length));
  const byId = new Map<string, Vec[]>();
  for (const s of samples) byId.set(s.id, [...(byId.get(s.id) ?? []), s.e]);
  const sw = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  let n = 0;
  for (const es of byId.values()) {
    if (es.length < 2) continue;
    const mu = new Array<number>(d).fill(0);
    for (const e of es) e.forEach((x, i) => (mu[i]! += x / es.length));
    for (const e of es) {
      const c = e.map((x, i) => x - mu[i]!);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) sw[i]![j]! += c[i]! * c[j]!;
      n++;
    }
  }
  const trace = sw.reduce((s, r, i) => s + r[i]!, 0) / n / d;
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) sw[i]![j] = sw[i]![j]! / n + (i === j ? reg * trace : 0);
  const { values, vectors } = symmetricEigen(sw);
  // W = V diag(1/sqrt(λ)) Vᵀ
  const w = Array.from({ length: d }, (_, i) =>
    Array.from({ length: d }, (_, j) => values.reduce((s, l, k) => s + (vectors[i]![k]! * vectors[j]![k]!) / Math.sqrt(l), 0)),
  );
  return (x) => {
    const c = x.map((v, i) => v - mean[i]!);
    return w.map((row) => row.reduce((s, v, i) => s + v * c[i]!, 0));
  };
}

export async function adaptBench(data: readonly string[], recognizer: string | undefined): Promise<void> {
  const [devDir, asiaDir] = data as [string, string];
  const engine = new FaceEngine(
    { backend: 'wasm', recognizer: { model: recognizer ?? 'faceapi' }, calibration: 'none', callTimeoutMs: 60_000, maxTensorGrowth: 50 },
    pino({ level: 'warn' }),
  );
  const info = await engine.start();
  const dev = evaluate.listPhotos([devDir]);
  const asia = evaluate.listPhotos([asiaDir]);
  const devE = (await evaluate.embedAll(engine, dev, 'reference')).map((e) => e.embedding);
  const asiaE = (await evaluate.embedAll(engine, asia, 'reference')).map((e) => e.embedding);
  await engine.stop();
  const ids = [...new Set(asia.map((p) => p.id))].sort();
  console.log(
    `population adaptation experiment: ${info.recognizer.name}; ${dev.length} + ${asia.length} photos, ${ids.length} East-Asian identities in two folds`,
  );
  for (const reg of [0.05, 0.2, 1]) {
    const rows: string[] = [];
    for (const fold of [0, 1]) {
      const train = new Set(ids.filter((_, i) => i % 2 === fold));
      const fitOn = asia.map((p, i) => ({ id: p.id, e: asiaE[i] })).filter((s): s is { id: string; e: Vec } => train.has(s.id) && s.e !== null);
      const whiten = fitWhitening(fitOn, reg);
      const test: evaluate.LabelledPhoto[] = [...dev, ...asia.filter((p) => !train.has(p.id))];
      const raw = [...devE, ...asiaE.filter((_, i) => !train.has(asia[i]!.id))].map((e) => (e ? [...e] : null));
      const adapted = raw.map((e) => (e ? whiten(e) : null));
      for (const [name, emb, metric] of [
        ['raw', raw, info.recognizer.metric],
        ['whitened', adapted, 'cosine'],
      ] as const) {
        const d = evaluate.pairDistances(test, evaluate.allPairs(test), emb, emb, metric as Metric, () => null);
        const asiaPairs = d.bySet.get('dev-asia') ?? d.bySet.get(asia[0]!.set)!;
        const t = evaluate.thresholdAtFar(d.impostor, 1e-3);
        rows.push(
          `  fold ${fold} ${name.padEnd(8)}: EER ${(evaluate.equalErrorRate(d.genuine, d.impostor) * 100).toFixed(2)}%, TAR@1e-3 ${(evaluate.acceptRate(d.genuine, t) * 100).toFixed(1)}%, East-Asian FAR at that threshold ${(evaluate.acceptRate(asiaPairs, t) * 100).toFixed(2)}%, TAR at East-Asian FAR 1e-3 ${(evaluate.acceptRate(d.genuine, Math.min(t, evaluate.thresholdAtFar(asiaPairs, 1e-3))) * 100).toFixed(1)}%`,
        );
      }
    }
    console.log(`regularisation ${reg}:\n${rows.join('\n')}`);
  }
}
