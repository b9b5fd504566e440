import { readFileSync } from 'node:fs';

/**
 * Group labels for per-group FAR: a CSV with a `face_id` column and an `ethnicity` (or
 * `face_eth`, as london_info.csv has it) column. An identity folder matches a row when its name
 * is the face_id, or `london-<face_id>` (the London set's folders). Others have no group.
 */
export function loadGroups(path: string | undefined): (identity: string) => string | null {
  if (!path) return () => null;
  const [head, ...rows] = readFileSync(path, 'utf8')
    .trim()
    .split(/\r?\n/)
    .map((l) => l.split(','));
  const idCol = head!.indexOf('face_id');
  const ethCol = head!.findIndex((h) => h === 'ethnicity' || h === 'face_eth');
  if (idCol < 0 || ethCol < 0) throw new Error(`${path}: needs a face_id and an ethnicity (or face_eth) column`);
  const map = new Map(rows.map((r) => [r[idCol]!, r[ethCol]!]));
  return (identity) => {
    const name = identity.split('/').pop() ?? identity;
    return map.get(name) ?? map.get(/^london-(.+)$/.exec(name)?.[1] ?? '\0') ?? null;
  };
}
