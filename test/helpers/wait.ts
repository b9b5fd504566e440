import { existsSync } from 'node:fs';
import { until } from '../../hw-sim/wait.js';

export { until };
export const waitForPath = (path: string, ms: number): Promise<void> => until(() => existsSync(path), ms, `${path} to exist`);
