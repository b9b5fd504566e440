export { Watcher, type Seen } from '../../hw-sim/watch.js';
