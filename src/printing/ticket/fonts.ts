import { createRequire } from 'node:module';
import * as PImage from 'pureimage';

/**
 * pureimage keeps one font table per process, and registering a family again swaps in an
 * unloaded font under anyone drawing with it. So a family is registered and loaded once, and
 * later callers (a second renderer, hw-sim in the same process) wait for that same load.
 */
export async function loadFont(family: string, npmPath: string): Promise<void> {
  const existing = PImage.debug_list_of_fonts[family];
  if (existing) {
    if (!existing.loaded) await existing.load();
    return;
  }
  const font = PImage.registerFont(createRequire(import.meta.url).resolve(npmPath), family);
  await font.load();
}
